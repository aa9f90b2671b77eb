package main

// The page docs/benchmarks.md is partly generated (by compare.sh, through
// this program) and partly written by hand. The generated part lives
// between two marker comments and only that part is replaced, so the
// hand-written sections around it are kept.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

const (
	beginMarker = "<!-- compare.sh: begin -->"
	endMarker   = "<!-- compare.sh: end -->"
	// pageTitle heads a page that does not exist yet.
	pageTitle = "# Benchmarks: pier and its peers side by side"
)

// markerLine finds the line that starts with marker (without the closing
// "-->", so that a comment may say more) from offset from: the offsets of
// its start and of the end of the line (after its newline).
func markerLine(page, marker string, from int) (start, end int, ok bool) {
	prefix := strings.TrimSuffix(marker, " -->")
	for i := from; i < len(page); {
		j := strings.IndexByte(page[i:], '\n')
		next := len(page)
		if j >= 0 {
			next = i + j + 1
		}
		if strings.HasPrefix(strings.TrimSpace(page[i:next]), prefix) {
			return i, next, true
		}
		i = next
	}
	return 0, 0, false
}

// splice puts part between the markers of page, replacing what was there.
// Without markers, part goes after the page's title (its first line, if it
// is a level-1 heading) or at the top, everything else kept; an empty page
// gets the title. One marker without the other is an error: the page was
// edited by hand and guessing where the generated part ends could lose text.
func splice(page, part string) (string, error) {
	block := beginMarker + "\n\n" + strings.Trim(part, "\n") + "\n\n" + endMarker + "\n"
	bs, be, bok := markerLine(page, beginMarker, 0)
	from := 0
	if bok {
		from = be
	}
	_, ee, eok := markerLine(page, endMarker, from)
	switch {
	case bok && eok:
		return page[:bs] + block + page[ee:], nil
	case bok:
		if _, _, ok := markerLine(page, endMarker, 0); ok {
			return "", errors.New("the end marker comes before the begin marker")
		}
		return "", errors.New("the begin marker " + beginMarker + " has no end marker after it")
	case eok:
		return "", errors.New("the end marker " + endMarker + " has no begin marker before it")
	}
	if strings.TrimSpace(page) == "" {
		return pageTitle + "\n\n" + block, nil
	}
	if strings.HasPrefix(page, "# ") {
		title, rest, _ := strings.Cut(page, "\n")
		rest = strings.TrimLeft(rest, "\n")
		if rest == "" {
			return title + "\n\n" + block, nil
		}
		return title + "\n\n" + block + "\n" + rest, nil
	}
	return block + "\n" + page, nil
}

// splicePage replaces the generated part of the page file with the
// contents of the part file (the page is made if it does not exist), by
// writing a new file and renaming it over the old one.
func splicePage(pageFile, partFile string) error {
	part, err := os.ReadFile(partFile)
	if err != nil {
		return err
	}
	page, err := os.ReadFile(pageFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := splice(string(page), string(part))
	if err != nil {
		return errors.New(pageFile + ": " + err.Error())
	}
	tmp, err := os.CreateTemp(filepath.Dir(pageFile), ".benchmarks-*.md")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(pageFile); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), pageFile)
}
