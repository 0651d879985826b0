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
	Stopped    bool   `help:"Release a run that was stopped before its last epoch, as it stands; its learning curve says where it stopped."`
}

func (c *releaseCmd) Help() string {
	return `Writes a finished supernet checkpoint without the optimiser's momentum and
the distillation teacher, which only a continuing run needs: the form the
supernet ships in (models/supernet.ckpt). Every command that reads a supernet
accepts both forms.

A run stopped early is refused unless --stopped says that is what you mean
(with a cosine schedule, the last epochs' learning rates are already small).

Examples:
  ofac release runs/supernet.ckpt -o models/supernet.ckpt
  ofac release runs/supernet.ckpt --stopped -o models/supernet.ckpt`
}

func (c *releaseCmd) Run(e *env) error {
	ck, err := train.LoadCheckpoint(c.Checkpoint)
	if err != nil {
		return err
	}
	stoppedAt := ""
	if !ck.State.Done(ck.Config) {
		if !c.Stopped {
			return usageError{errors.New(c.Checkpoint + " is a run still in progress: finish it (ofac train --resume) before releasing it, or release it as it stands with --stopped")}
		}
		ph := ck.Config.Phases[ck.State.Phase]
		stoppedAt = fmt.Sprintf(", stopped after epoch %d of %d of phase %s", ck.State.Epoch, ph.Epochs, ph.Name)
	}
	ck.Release()
	if err := ck.Save(c.Out); err != nil {
		return err
	}
	st, err := os.Stat(c.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "released %s: %.1f MB%s\n", c.Out, float64(st.Size())/1e6, stoppedAt)
	return nil
}
