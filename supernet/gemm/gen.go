package gemm

//go:generate go run ./internal/asmgen -out kernels_amd64.s -stubs kernels_amd64_stubs.go -pkg gemm -table kernels_table_amd64.go
