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
	// LineInterval is the least time between two progress lines when not on a terminal.
	LineInterval time.Duration
}

// NewProgress returns a progress display for a training of epochs epochs of stepsPerEpoch steps
// of batchSize images, writing to w (nil: no display).
func NewProgress(w io.Writer, epochs, stepsPerEpoch, batchSize int) *Progress {
	return &Progress{w: w, terminal: isTerminal(w), epochs: epochs, stepsPerEp: stepsPerEpoch,
		batchSize: batchSize, LineInterval: 10 * time.Second}
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
			p.write(fmt.Sprintf("epoch %d/%d step %d/%d loss %.4f acc %.4f (compiling)", epoch+1, p.epochs, step, p.stepsPerEp, loss, accuracy))
		}
		return
	}
	p.timedSeen = true
	p.lastLine = now
	perStep := elapsed.Seconds() / float64(stepsDone)
	left := float64((p.epochs-epoch-1)*p.stepsPerEp+p.stepsPerEp-step) * perStep
	line := fmt.Sprintf("epoch %d/%d step %d/%d loss %.4f acc %.4f %.0f img/s left %s",
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
	fmt.Fprintf(p.w, "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1fs, %.0f img/s\n",
		s.Epoch, p.epochs, s.TrainLoss, s.TrainAccuracy, s.TestLoss, s.TestAccuracy, s.Seconds, s.ImagesPerSecond)
	p.lastLine = time.Now()
}
