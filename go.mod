module github.com/pierftp/pier

go 1.26.0

require (
	github.com/jlaffaye/ftp v0.2.4 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
