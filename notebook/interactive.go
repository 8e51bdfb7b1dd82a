package notebook

import (
	"encoding/base64"
	"fmt"
	"html"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/widgets"
	"github.com/pkg/errors"
)

// HeadlessEnv, when "1" or "true", tells interactive cells that no browser is attached (the headless
// runner scripts/notebooks.py sets it): they show their default values once instead of waiting for
// widgets that nobody can move.
const HeadlessEnv = "CNNLAB_HEADLESS"

// IdleTimeout is how long an interactive cell waits for a change before it ends by itself.
const IdleTimeout = 10 * time.Minute

// Headless reports whether notebooks run without a browser ($CNNLAB_HEADLESS).
func Headless() bool {
	headless, _ := strconv.ParseBool(os.Getenv(HeadlessEnv))
	return headless
}

// Control is one slider of an interactive cell.
type Control struct {
	// Label is shown before the slider.
	Label string
	// Min, Max and Default are the slider's range and initial value.
	Min, Max, Default int
}

// Defaults returns the default values of controls.
func Defaults(controls []Control) []int {
	values := make([]int, len(controls))
	for i, c := range controls {
		values[i] = c.Default
	}
	return values
}

// Interact shows a slider for each control and, under them, the HTML that render returns for their
// values, redrawn on every change, until the «Готово» button is pressed or nothing changes for
// IdleTimeout (the kernel is busy meanwhile); the last output then stays in the notebook. Headless
// (see Headless) it renders the default values once. An error of render ends the cell.
func Interact(controls []Control, render func(values []int) (string, error)) error {
	values := Defaults(controls)
	for i, c := range controls {
		if c.Min > c.Max || c.Default < c.Min || c.Default > c.Max {
			return errors.Errorf("interact: control %d %q has default %d outside %d..%d", i, c.Label, c.Default, c.Min, c.Max)
		}
	}
	if Headless() {
		out, err := render(values)
		if err != nil {
			return err
		}
		gonbui.DisplayHtml(out)
		return nil
	}
	div := dom.CreateTransientDiv()
	type change struct{ index, value int }
	changes := make(chan change, 16)
	valueIDs := make([]string, len(controls))
	for i, c := range controls {
		valueIDs[i] = "value" + gonbui.UniqueId()
		dom.Append(div, fmt.Sprintf(`<label style="display:inline-block;min-width:11em">%s</label>`, html.EscapeString(c.Label)))
		slider := widgets.Slider(c.Min, c.Max, c.Default).AppendTo(div).Done()
		dom.Append(div, fmt.Sprintf(`<span id="%s" style="font-family:monospace;margin:0 1em">%d</span><br/>`, valueIDs[i], c.Default))
		updates := slider.Listen().LatestOnly()
		go func(index int) {
			for v := range updates.C {
				changes <- change{index, v}
			}
		}(i)
	}
	done := widgets.Button("Готово").AppendTo(div).Done().Listen()
	outID := "output" + gonbui.UniqueId()
	last, err := render(values)
	if err != nil {
		return err
	}
	gonbui.UpdateHtml(outID, last)
loop:
	for {
		select {
		case <-done.C:
			break loop
		case c := <-changes:
			values[c.index] = c.value
			dom.SetInnerText(valueIDs[c.index], strconv.Itoa(c.value))
			if last, err = render(values); err != nil {
				last = "<p>" + html.EscapeString(err.Error()) + "</p>"
			}
			gonbui.UpdateHtml(outID, last)
		case <-time.After(IdleTimeout):
			break loop
		}
	}
	gonbui.UpdateHtml(outID, "")
	dom.Remove(div)
	var settings []string
	for i, c := range controls {
		settings = append(settings, fmt.Sprintf("%s = %d", c.Label, values[i]))
	}
	gonbui.DisplayHtml("<p>" + html.EscapeString(strings.Join(settings, ", ")) + "</p>" + last)
	return nil
}

// PNGHTML returns an <img> element showing PNG data inline, for the HTML of an interactive cell.
func PNGHTML(png []byte) string {
	return `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(png) + `"/>`
}
