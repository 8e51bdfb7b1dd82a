package training

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Progress displays training progress: the epoch, step, running loss and accuracy, images/s and
// the estimated time left. On a terminal it rewrites one status line in place (carriage return and
// the ANSI "erase line" sequence) and prints every epoch; anywhere else (a notebook, a log file, a
// pipe) it writes plain lines, never ANSI sequences: a step line at most once per LineInterval, and
// the first, the last and every ⌈epochs/10⌉-th epoch. A nil Progress or writer is silent.
type Progress struct {
	w            io.Writer
	terminal     bool
	epochs       int
	stepsPerEp   int
	batchSize    int
	lastLine     time.Time
	pendingClear bool
	timedSeen    bool
	text         ProgressText
	// LineInterval is the least time between two progress lines when not on a terminal.
	LineInterval time.Duration
}

// ProgressText holds the wording of the progress display, as fmt formats whose verbs take the
// arguments in the order each field lists: a translation keeps the verbs and their order.
type ProgressText struct {
	// Compiling is the line of the first step: epoch, epochs, step, steps per epoch, loss, accuracy.
	Compiling string
	// Step is a step line: epoch, epochs, step, steps per epoch, loss, accuracy, images/s, time left
	// (a time.Duration, %s).
	Step string
	// Epoch is an epoch line: epoch, epochs, train loss, train accuracy, test loss, test accuracy,
	// seconds, images/s.
	Epoch string
	// EpochUntested is the line of an epoch after which the test set was not evaluated
	// (TrainConfig.TestEvery): epoch, epochs, train loss, train accuracy, seconds, images/s.
	EpochUntested string
	// Finished says a checkpoint already holds the whole training: epochs, global steps.
	Finished string
	// Resuming says training resumes from a checkpoint: epoch (1-based), step in it, global step.
	Resuming string
}

// EnglishProgressText is the progress display's default wording.
func EnglishProgressText() ProgressText {
	return ProgressText{
		Compiling:     "epoch %d/%d step %d/%d loss %.4f acc %.4f (compiling)",
		Step:          "epoch %d/%d step %d/%d loss %.4f acc %.4f %.0f img/s left %s",
		Epoch:         "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1fs, %.0f img/s",
		EpochUntested: "epoch %d/%d: train loss %.4f acc %.4f | %.1fs, %.0f img/s",
		Finished:      "training already finished in the checkpoint: %d epochs, %d steps",
		Resuming:      "resuming from checkpoint: epoch %d, step %d of the epoch, global step %d",
	}
}

// NewProgress returns a progress display for a training of epochs epochs of stepsPerEpoch steps
// of batchSize images, writing to w (nil: no display), in EnglishProgressText's wording.
func NewProgress(w io.Writer, epochs, stepsPerEpoch, batchSize int) *Progress {
	return &Progress{w: w, terminal: isTerminal(w), epochs: epochs, stepsPerEp: stepsPerEpoch,
		batchSize: batchSize, LineInterval: 10 * time.Second, text: EnglishProgressText()}
}

// WithText sets the wording of the display (see ProgressText) and returns p.
func (p *Progress) WithText(text ProgressText) *Progress {
	if p != nil {
		p.text = text
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Printf writes a message on a line of its own.
func (p *Progress) Printf(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// clear erases the in-place status line on a terminal.
func (p *Progress) clear() {
	if p.pendingClear {
		fmt.Fprint(p.w, "\r\033[K")
		p.pendingClear = false
	}
}

// Step reports the state after a step: epoch (0-based) and step within it (1-based), the running
// loss and accuracy of the epoch, and the number of timed steps done in elapsed by this process
// (0 while only the first, compiling, step has run).
func (p *Progress) Step(epoch, step int, loss, accuracy float64, stepsDone int, elapsed time.Duration) {
	if p == nil || p.w == nil {
		return
	}
	now := time.Now()
	if !p.terminal && now.Sub(p.lastLine) < p.LineInterval {
		return
	}
	if p.terminal && now.Sub(p.lastLine) < 100*time.Millisecond {
		return
	}
	if stepsDone < 1 {
		if !p.timedSeen { // only the very first step of the process compiles the graph
			p.lastLine = now
			p.write(fmt.Sprintf(p.text.Compiling, epoch+1, p.epochs, step, p.stepsPerEp, loss, accuracy))
		}
		return
	}
	p.timedSeen = true
	p.lastLine = now
	perStep := elapsed.Seconds() / float64(stepsDone)
	left := float64((p.epochs-epoch-1)*p.stepsPerEp+p.stepsPerEp-step) * perStep
	line := fmt.Sprintf(p.text.Step,
		epoch+1, p.epochs, step, p.stepsPerEp, loss, accuracy, float64(p.batchSize)/perStep,
		(time.Duration(left) * time.Second).Round(time.Second))
	p.write(line)
}

// write shows a status line: in place on a terminal, else as a line of its own.
func (p *Progress) write(line string) {
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K"+line)
		p.pendingClear = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// Epoch reports a completed epoch on a line of its own.
func (p *Progress) Epoch(s EpochStats) {
	if p == nil || p.w == nil {
		return
	}
	every := (p.epochs + 9) / 10
	if !p.terminal && s.Epoch != 1 && s.Epoch != p.epochs && s.Epoch%every != 0 {
		return
	}
	p.clear()
	if s.TestSkipped {
		fmt.Fprintf(p.w, p.text.EpochUntested+"\n", s.Epoch, p.epochs, s.TrainLoss, s.TrainAccuracy, s.Seconds, s.ImagesPerSecond)
	} else {
		fmt.Fprintf(p.w, p.text.Epoch+"\n",
			s.Epoch, p.epochs, s.TrainLoss, s.TrainAccuracy, s.TestLoss, s.TestAccuracy, s.Seconds, s.ImagesPerSecond)
	}
	p.lastLine = time.Now()
}
