// Command kmipd is a KMIP server that turns a PKCS#11 HSM into a key
// management service. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/service"
)

func main() {
	tuneGC()
	app := newApp()
	if err := app.Run(os.Args); err != nil {
		// One line plus a hint, never a stack trace.
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := ec.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "kmipd: "+msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "kmipd: "+err.Error())
		os.Exit(1)
	}
}

func newApp() *cli.App {
	app := &cli.App{
		Name:                 "kmipd",
		Usage:                "a KMIP server backed by a PKCS#11 HSM",
		Version:              service.Version,
		EnableBashCompletion: true,
		HideVersion:          true,
		Commands: []*cli.Command{
			serveCommand(),
			devCommand(),
			initCommand(),
			backupCommand(),
			configCommand(),
			auditCommand(),
			versionCommand(),
			benchCommand(),
			conformanceCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints
		// Without a command: help. With an unknown one: a one-line error
		// (urfave/cli would answer "No help topic" with exit code 3).
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return fail(fmt.Errorf("unknown command %q", c.Args().First()), "see `kmipd --help` for the commands")
			}
			return cli.ShowAppHelp(c)
		},
		OnUsageError: usageError("kmipd"),
	}
	setUsageErrors(app.Commands, "kmipd")
	return app
}

// setUsageErrors makes every command answer a bad flag, or a missing
// required one, with one line and a hint instead of its whole help text:
// required string flags are checked in Before, since urfave/cli prints the
// help before its own "Required flag" error.
func setUsageErrors(cmds []*cli.Command, parent string) {
	for _, c := range cmds {
		name := parent + " " + c.Name
		c.OnUsageError = usageError(name)
		var required []string
		for _, f := range c.Flags {
			if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
				sf.Required = false
				required = append(required, sf.Name)
			}
		}
		if len(required) > 0 {
			before := c.Before
			c.Before = func(ctx *cli.Context) error {
				// The wording is urfave/cli's own.
				var missing []string
				for _, n := range required {
					if ctx.String(n) == "" {
						missing = append(missing, n)
					}
				}
				switch len(missing) {
				case 0:
				case 1:
					return fail(fmt.Errorf("%s: Required flag %q not set", strings.TrimPrefix(name, "kmipd "), missing[0]), "see `"+name+" --help`")
				default:
					return fail(fmt.Errorf("%s: Required flags %q not set", strings.TrimPrefix(name, "kmipd "), strings.Join(missing, ", ")), "see `"+name+" --help`")
				}
				if before != nil {
					return before(ctx)
				}
				return nil
			}
		}
		setUsageErrors(c.Subcommands, name)
	}
}

func usageError(name string) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return fail(err, "see `"+name+" --help`")
	}
}

// fail is the CLI's error: one line saying what failed and a hint, exit
// code 1. Line breaks inside the error are flattened, so that a log
// collector sees one record.
func fail(what error, hint string) error {
	msg := strings.ReplaceAll(strings.TrimSpace(what.Error()), "\n", " ")
	if hint != "" {
		msg += " — hint: " + hint
	}
	return cli.Exit(msg, 1)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "kmipd %s\n", service.Version)
			return nil
		},
	}
}
