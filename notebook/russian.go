package notebook

import "fmt"

// Plural returns n with the Russian form of a noun that agrees with it: one for 1, 21, 31, …
// ("1 значение"), few for 2–4, 22–24, … ("3072 значения"), many for 0, 5–20, 25–30, …
// ("2048 значений"; 11–14 take many too).
func Plural(n int, one, few, many string) string {
	m := n % 100
	if m < 0 {
		m = -m
	}
	word := many
	switch {
	case m >= 11 && m <= 14:
	case m%10 == 1:
		word = one
	case m%10 >= 2 && m%10 <= 4:
		word = few
	}
	return fmt.Sprintf("%d %s", n, word)
}
