package notebook

import (
	"fmt"

	"github.com/cnnlab/cnnlab/training"
)

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

// RussianProgressText is the training progress display in Russian, for the notebooks (Run sets it).
func RussianProgressText() training.ProgressText {
	return training.ProgressText{
		Compiling:     "эпоха %d/%d, шаг %d/%d: loss %.4f, точность %.4f (компиляция графа)",
		Step:          "эпоха %d/%d, шаг %d/%d: loss %.4f, точность %.4f, %.0f изобр./с, осталось %s",
		Epoch:         "эпоха %d/%d: train loss %.4f, точность %.4f | test loss %.4f, точность %.4f | %.1f с, %.0f изобр./с",
		EpochUntested: "эпоха %d/%d: train loss %.4f, точность %.4f | %.1f с, %.0f изобр./с",
		Finished:      "обучение уже завершено в контрольной точке: эпох %d, шагов %d",
		Resuming:      "продолжение с контрольной точки: эпоха %d, шаг %d в эпохе, шаг %d от начала",
	}
}
