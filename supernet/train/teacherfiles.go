package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ofac-dev/ofac/supernet/ofa"
)

// TeacherFile names a teacher a run reads from outside its checkpoint: the
// checkpoint file the teacher's network comes from, and the SHA-256 of that
// network's weights, so a resumed run refuses a file that has changed since.
//
// Teachers given from outside are already files, so a checkpoint names them
// rather than holding copies: each copy is as large as the network trained,
// and a run with two teachers and momentum would otherwise write four
// networks every epoch (33 MB in the fine space).
type TeacherFile struct {
	// Path is usable from the working directory in memory; in the file it
	// is relative to the checkpoint's folder, so a run moved together with
	// its teachers still finds them.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// NetDigest is the hex SHA-256 of a network's weights and batch-norm
// statistics as a checkpoint stores them.
func NetDigest(n *ofa.Net) string {
	var b bytes.Buffer
	writeNet(&b, n)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// NewTeacherFile names the file the teacher n was read from, with n's
// digest, for a checkpoint that refers to it.
func NewTeacherFile(path string, n *ofa.Net) TeacherFile {
	return TeacherFile{Path: path, SHA256: NetDigest(n)}
}

func (f TeacherFile) valid() error {
	if f.Path == "" || strings.ContainsRune(f.Path, 0) {
		return errors.New("a teacher file has no usable path")
	}
	if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size || f.SHA256 != strings.ToLower(f.SHA256) {
		return fmt.Errorf("teacher file %s: digest %q is not a SHA-256 in lower-case hex", f.Path, f.SHA256)
	}
	return nil
}

// teacherFilesIn turns paths written relative to the folder dir into paths
// usable from the working directory.
func teacherFilesIn(files []TeacherFile, dir string) []TeacherFile {
	if len(files) == 0 {
		return nil
	}
	out := slices.Clone(files)
	for i := range out {
		if p := filepath.FromSlash(out[i].Path); !filepath.IsAbs(p) {
			out[i].Path = filepath.Join(dir, p)
		}
	}
	return out
}

// teacherFilesRelativeTo turns paths usable from the working directory
// into paths relative to the folder dir, as a file in dir writes them.
func teacherFilesRelativeTo(files []TeacherFile, dir string) ([]TeacherFile, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(files)
	for i := range out {
		abs, err := filepath.Abs(out[i].Path)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(absDir, abs)
		if err != nil {
			return nil, fmt.Errorf("teacher %s: %w", out[i].Path, err)
		}
		out[i].Path = filepath.ToSlash(rel)
	}
	return out, nil
}

// ReadTeachers reads the teachers the checkpoint names by file, refusing a
// file whose network is not, bit for bit, the one the run started with: a
// run continued with another teacher would train something no command
// describes. It does nothing when the teachers are in memory already or the
// checkpoint names none. Only training needs them, so LoadCheckpoint leaves
// them unread and the other commands work without the teachers' files.
func (c *Checkpoint) ReadTeachers() error {
	if len(c.TeacherFiles) == 0 || len(c.Teachers) == len(c.TeacherFiles) {
		return nil
	}
	teachers := make([]*ofa.Net, 0, len(c.TeacherFiles))
	for _, f := range c.TeacherFiles {
		from, err := LoadCheckpoint(f.Path)
		if err != nil {
			return fmt.Errorf("reading the run's teacher: %w", err)
		}
		t := ofa.New(c.Net.Space, 0)
		if err := t.CopyFrom(from.Net); err != nil {
			return fmt.Errorf("the run's teacher %s: %w", f.Path, err)
		}
		if d := NetDigest(t); d != f.SHA256 {
			return fmt.Errorf("the run's teacher %s has changed since the run started (its network's SHA-256 is %s, the checkpoint recorded %s): put back the file it started with", f.Path, d, f.SHA256)
		}
		teachers = append(teachers, t)
	}
	c.Teachers = teachers
	return nil
}
