package checker

import "fmt"

// carriedPanic is a panic of one of the checker's own goroutines, carried
// to the caller's and raised there again: the harness recovers a checker's
// panic into a report that keeps the history, which it can do only on the
// goroutine that called the checker.
type carriedPanic struct {
	value any
	stack []byte
	where string
}

func (p *carriedPanic) Error() string {
	return fmt.Sprintf("%v (%s)\n%s", p.value, p.where, p.stack)
}
