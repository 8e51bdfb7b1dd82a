package notebook

import (
	"encoding/base64"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/comms"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/widgets"
	"github.com/pkg/errors"
)

// MaxUploadBytes is the largest file InteractUpload accepts (the browser refuses larger ones before
// sending anything: the file travels base64-encoded through the kernel's websocket).
const MaxUploadBytes = 8 << 20

// Upload is a file picked in InteractUpload's file field.
type Upload struct {
	// Name is the file's name as the browser gives it (no directory).
	Name string
	// Data is the file's content.
	Data []byte
}

// uploadJS reads the picked file in the browser and sends "name\nbase64" to the kernel (or
// "error\nmessage" for a file too large or unreadable). %[1]q is the input's id, %[2]q the address,
// %[3]d the size limit.
const uploadJS = `(() => {
  const input = document.getElementById(%[1]q);
  const comm = globalThis?.gonb_comm;
  if (!input || !comm) { console.error("cnnlab upload: no input or no GoNB communication"); return; }
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    if (file.size > %[3]d) {
      comm.send(%[2]q, "error\n" + file.name + ": " + file.size + " байт, больше предела " + %[3]d);
      return;
    }
    const reader = new FileReader();
    reader.onload = () => comm.send(%[2]q, file.name.replace(/\n/g, " ") + "\n" + String(reader.result).split(",")[1]);
    reader.onerror = () => comm.send(%[2]q, "error\n" + file.name + ": " + reader.error);
    reader.readAsDataURL(file);
  });
})();`

// InteractUpload shows a file field (images) labelled label and, under it, the HTML that render
// returns for the picked file — first for initial, then for every file the student picks — until
// the «Готово» button is pressed or nothing happens for IdleTimeout (the kernel is busy meanwhile);
// the last output then stays in the notebook. An error of render (a file that is not an image, say)
// is shown in place of the output, and the cell goes on. Headless (see Headless) it renders initial
// once. Files larger than MaxUploadBytes are refused by the page.
func InteractUpload(label string, initial Upload, render func(u Upload) (string, error)) error {
	if Headless() {
		out, err := render(initial)
		if err != nil {
			return err
		}
		gonbui.DisplayHtml(out)
		return nil
	}
	div := dom.CreateTransientDiv()
	inputID, address := "upload"+gonbui.UniqueId(), "/cnnlab/upload/"+gonbui.UniqueId()
	files := comms.Listen[string](address).LatestOnly()
	defer files.Close()
	dom.Append(div, fmt.Sprintf(`<label for="%s" style="margin-right:1em">%s</label><input type="file" id="%s" accept="image/*"/><br/>`,
		inputID, html.EscapeString(label), inputID))
	dom.TransientJavascript(fmt.Sprintf(uploadJS, inputID, address, MaxUploadBytes))
	done := widgets.Button("Готово").AppendTo(div).Done().Listen()
	outID := "output" + gonbui.UniqueId()
	last, err := render(initial)
	if err != nil {
		return err
	}
	shown := initial.Name
	gonbui.UpdateHtml(outID, last)
loop:
	for {
		select {
		case <-done.C:
			break loop
		case message := <-files.C:
			u, err := parseUpload(message)
			if err == nil {
				last, err = render(u)
			}
			if err != nil {
				last = "<p>" + html.EscapeString(err.Error()) + "</p>"
			} else {
				shown = u.Name
			}
			gonbui.UpdateHtml(outID, last)
		case <-time.After(IdleTimeout):
			break loop
		}
	}
	gonbui.UpdateHtml(outID, "")
	dom.Remove(div)
	gonbui.DisplayHtml("<p>" + html.EscapeString(label+": "+shown) + "</p>" + last)
	return nil
}

// parseUpload decodes the page's "name\nbase64" message (or its "error\nmessage").
func parseUpload(message string) (Upload, error) {
	name, payload, ok := strings.Cut(message, "\n")
	if !ok {
		return Upload{}, errors.New("upload: malformed message from the page (no file name)")
	}
	if name == "error" {
		return Upload{}, errors.Errorf("upload: %s", payload)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return Upload{}, errors.Wrapf(err, "upload %s: decoding the file from the page", name)
	}
	if len(data) > MaxUploadBytes {
		return Upload{}, errors.Errorf("upload %s: %d bytes, more than the limit %d", name, len(data), MaxUploadBytes)
	}
	return Upload{Name: name, Data: data}, nil
}
