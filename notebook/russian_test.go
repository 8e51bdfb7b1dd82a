package notebook

import "testing"

func TestPlural(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{1, "1 значение"}, {3072, "3072 значения"}, {2048, "2048 значений"}, {11, "11 значений"},
		{12, "12 значений"}, {21, "21 значение"}, {22, "22 значения"}, {0, "0 значений"}, {111, "111 значений"},
		{2432, "2432 значения"}, {1024, "1024 значения"}, {25, "25 значений"}, {101, "101 значение"},
	}
	for _, tc := range tests {
		if got := Plural(tc.n, "значение", "значения", "значений"); got != tc.want {
			t.Errorf("Plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
