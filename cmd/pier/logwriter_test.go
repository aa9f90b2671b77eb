package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records what it is given and how many writes gave it.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) get() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.writes
}

// TestLogWriterBatches: lines logged close together go out in one write,
// in their order, and Close writes them.
func TestLogWriterBatches(t *testing.T) {
	var out countingWriter
	lw := newLogWriter(&out, time.Hour) // only Close flushes
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if n, err := lw.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got, writes := out.get(); got != "" || writes != 0 {
		t.Fatalf("before the delay: %d writes of %q, want none", writes, got)
	}
	lw.Close()
	got, writes := out.get()
	if got != want.String() {
		t.Fatalf("after Close:\n%s\nwant:\n%s", got, want.String())
	}
	if writes != 1 {
		t.Errorf("%d writes, want 1", writes)
	}
	// After Close, a line goes straight through.
	lw.Write([]byte("late\n"))
	if got, _ := out.get(); !strings.HasSuffix(got, "line 99\nlate\n") {
		t.Errorf("a line after Close: log ends %q", got[max(0, len(got)-20):])
	}
}

// TestLogWriterFlushesByItself: a line is written after the delay, with no
// Close.
func TestLogWriterFlushesByItself(t *testing.T) {
	var out countingWriter
	lw := newLogWriter(&out, time.Millisecond)
	defer lw.Close()
	lw.Write([]byte("one\n"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := out.get(); got == "one\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was not written within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	// and the next line too: the flush re-arms.
	lw.Write([]byte("two\n"))
	for {
		if got, _ := out.get(); got == "one\ntwo\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the second line was not written within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLogWriterBounded: a logger that outruns the delay writes the waiting
// lines itself, so at most logMaxPending bytes wait.
func TestLogWriterBounded(t *testing.T) {
	var out countingWriter
	lw := newLogWriter(&out, time.Hour)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	total := 0
	for range 3 * logMaxPending / len(line) {
		lw.Write(line)
		total += len(line)
		got, _ := out.get()
		if waiting := total - len(got); waiting > logMaxPending {
			t.Fatalf("%d bytes wait, more than %d", waiting, logMaxPending)
		}
	}
	if got, _ := out.get(); len(got) == 0 {
		t.Fatal("nothing written before Close")
	}
	lw.Close()
	if got, _ := out.get(); len(got) != total {
		t.Fatalf("%d bytes written, want %d", len(got), total)
	}
}

// TestLogWriterConcurrent: lines from many goroutines come out whole and
// each once, every goroutine's in its own order.
func TestLogWriterConcurrent(t *testing.T) {
	var out countingWriter
	lw := newLogWriter(&out, 50*time.Microsecond)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				lw.Write(fmt.Appendf(nil, "w%d %d\n", w, i))
			}
		})
	}
	wg.Wait()
	lw.Close()
	got, _ := out.get()
	checkWriterLines(t, got, writers, lines)
}

// TestLogWriterCloseWhileWriting: lines written while Close runs, and after
// it, come out whole, once each and in each writer's order; nothing is
// left waiting once Close has returned and the writers have stopped.
func TestLogWriterCloseWhileWriting(t *testing.T) {
	for range 20 {
		var out countingWriter
		lw := newLogWriter(&out, time.Hour)
		const writers, lines = 4, 300
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				for i := range lines {
					lw.Write(fmt.Appendf(nil, "w%d %d %s\n", w, i, strings.Repeat("x", i%2000)))
				}
			})
		}
		close(start)
		lw.Close()
		wg.Wait()
		got, _ := out.get()
		checkWriterLines(t, got, writers, lines)
	}
}

// checkWriterLines checks that got holds, for each of writers, the lines
// "wW I ..." for I from 0 to lines-1, each once, whole and in order.
func checkWriterLines(t *testing.T, got string, writers, lines int) {
	t.Helper()
	next := make([]int, writers)
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d %d", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("mangled line %.40q", l)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
	for w, n := range next {
		if n != lines {
			t.Fatalf("writer %d: %d lines, want %d", w, n, lines)
		}
	}
}
