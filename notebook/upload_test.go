package notebook

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseUpload(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nrest")
	tests := []struct {
		name, message, wantName, wantErr string
	}{
		{"file", "cat.png\n" + base64.StdEncoding.EncodeToString(png), "cat.png", ""},
		{"empty file", "empty.jpg\n", "empty.jpg", ""},
		{"page error", "error\nbig.jpg: 9000000 байт, больше предела 8388608", "", "upload: big.jpg: 9000000 байт"},
		{"no name", "abc", "", "no file name"},
		{"bad base64", "x.png\n%%%", "", "upload x.png: decoding the file"},
		{"too large", "big.png\n" + base64.StdEncoding.EncodeToString(make([]byte, MaxUploadBytes+1)), "", "more than the limit"},
	}
	for _, tc := range tests {
		u, err := parseUpload(tc.message)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || u.Name != tc.wantName {
			t.Errorf("%s: got %q, %v; want %q", tc.name, u.Name, err, tc.wantName)
		}
	}
	if u, _ := parseUpload("cat.png\n" + base64.StdEncoding.EncodeToString(png)); string(u.Data) != string(png) {
		t.Errorf("data %q, want %q", u.Data, png)
	}
}

func TestInteractUploadHeadless(t *testing.T) {
	t.Setenv(HeadlessEnv, "1")
	var got []string
	err := InteractUpload("файл", Upload{Name: "test-0.png", Data: []byte{1}}, func(u Upload) (string, error) {
		got = append(got, u.Name)
		return "<p>ok</p>", nil
	})
	if err != nil || len(got) != 1 || got[0] != "test-0.png" {
		t.Errorf("headless: rendered %v, error %v; want the initial file once", got, err)
	}
}
