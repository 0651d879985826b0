module github.com/ofac-dev/ofac

go 1.26
