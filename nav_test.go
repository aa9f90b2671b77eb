package pier_test

import (
	"testing"
)

func TestNavigation(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nil)
	mkdirs(t, srv, "a/b/c", `q"d`, "sp ace")
	writeFile(t, srv, "file.txt", []byte("x"))
	cur := func(p string) string { return `"` + p + `" is the current directory.` }
	tests := []struct {
		name  string
		steps []step
	}{
		{"PWD at start", []step{{"PWD", 257, cur("/")}}},
		{"XPWD", []step{{"XPWD", 257, cur("/")}}},
		{"CWD relative then absolute", []step{
			{"CWD a", 250, ""},
			{"PWD", 257, cur("/a")},
			{"CWD b/c", 250, ""},
			{"PWD", 257, cur("/a/b/c")},
			{"CWD /a/b", 250, ""},
			{"PWD", 257, cur("/a/b")},
		}},
		{"CWD reply names the directory", []step{{"CWD /a/b/", 250, cur("/a/b")}}},
		{"XCWD", []step{{"XCWD a/b", 250, ""}, {"XPWD", 257, cur("/a/b")}}},
		{"CDUP and XCUP", []step{
			{"CWD /a/b/c", 250, ""},
			{"CDUP", 250, ""},
			{"PWD", 257, cur("/a/b")},
			{"XCUP", 250, ""},
			{"PWD", 257, cur("/a")},
		}},
		{"CDUP at the root stays there", []step{{"CDUP", 250, ""}, {"PWD", 257, cur("/")}}},
		{"CWD without argument goes to the root", []step{
			{"CWD /a/b", 250, ""},
			{"CWD", 250, ""},
			{"PWD", 257, cur("/")},
		}},
		{"dot-dot clamps at the root", []step{
			{"CWD a", 250, ""},
			{"CWD ../../..", 250, ""},
			{"PWD", 257, cur("/")},
			{"CWD /../../a/../../a/b", 250, ""},
			{"PWD", 257, cur("/a/b")},
		}},
		{"dot and double slashes", []step{{"CWD /a//./b/", 250, ""}, {"PWD", 257, cur("/a/b")}}},
		{"quote in a name is doubled", []step{
			{`CWD q"d`, 250, ""},
			{"PWD", 257, `"/q""d" is the current directory.`},
		}},
		{"space in a name", []step{{"CWD sp ace", 250, ""}, {"PWD", 257, cur("/sp ace")}}},
		{"missing directory", []step{
			{"CWD /a", 250, ""},
			{"CWD nope", 550, ""},
			{"PWD", 257, cur("/a")},
		}},
		{"a file is not a directory", []step{{"CWD file.txt", 550, ""}, {"PWD", 257, cur("/")}}},
		{"CWD into a file path", []step{{"CWD file.txt/x", 550, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, login(t, srv), tt.steps)
		})
	}

	t.Run("anonymous may change directory", func(t *testing.T) {
		t.Parallel()
		runSteps(t, loginAnon(t, srv), []step{
			{"CWD a/b", 250, ""}, {"CDUP", 250, ""}, {"PWD", 257, cur("/a")},
		})
	})
}
