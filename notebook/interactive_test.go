package notebook

import (
	"errors"
	"slices"
	"testing"
)

func TestInteractHeadless(t *testing.T) {
	t.Setenv(HeadlessEnv, "1")
	controls := []Control{{"n", 1, 10, 5}, {"k", 1, 5, 3}}
	var calls [][]int
	err := Interact(controls, func(v []int) (string, error) {
		calls = append(calls, slices.Clone(v))
		return "<p>ok</p>", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || !slices.Equal(calls[0], []int{5, 3}) {
		t.Errorf("headless Interact rendered %v, want once with the defaults [5 3]", calls)
	}
	boom := errors.New("boom")
	if err := Interact(controls, func([]int) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Errorf("Interact returned %v, want render's error", err)
	}
	if err := Interact([]Control{{"bad", 1, 3, 7}}, func([]int) (string, error) { return "", nil }); err == nil {
		t.Error("a default outside the range gave no error")
	}
}

func TestHeadless(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"", false}, {"1", true}, {"true", true}, {"0", false}} {
		t.Setenv(HeadlessEnv, tc.env)
		if got := Headless(); got != tc.want {
			t.Errorf("Headless() with %q = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestPNGHTML(t *testing.T) {
	if got, want := PNGHTML([]byte{1, 2, 3}), `<img src="data:image/png;base64,AQID"/>`; got != want {
		t.Errorf("PNGHTML = %q, want %q", got, want)
	}
}
