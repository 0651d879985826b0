package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/ofac-dev/ofac/supernet/train"
)

type releaseCmd struct {
	Checkpoint string `arg:"" placeholder:"CKPT" help:"A finished training checkpoint."`
	Out        string `short:"o" required:"" placeholder:"FILE" help:"Where to write the released supernet."`
}

func (c *releaseCmd) Help() string {
	return `Writes a finished supernet checkpoint without the optimiser's momentum and
the distillation teacher, which only a continuing run needs: the form the
supernet ships in (models/supernet.ckpt). Every command that reads a supernet
accepts both forms.

Example:
  ofac release runs/supernet.ckpt -o models/supernet.ckpt`
}

func (c *releaseCmd) Run(e *env) error {
	ck, err := train.LoadCheckpoint(c.Checkpoint)
	if err != nil {
		return err
	}
	if !ck.State.Done(ck.Config) {
		return usageError{errors.New(c.Checkpoint + " is a run still in progress: finish it (ofac train --resume) before releasing it")}
	}
	ck.Release()
	if err := ck.Save(c.Out); err != nil {
		return err
	}
	st, err := os.Stat(c.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "released %s: %.1f MB\n", c.Out, float64(st.Size())/1e6)
	return nil
}
