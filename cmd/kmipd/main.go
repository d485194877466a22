// Command kmipd is a KMIP server that turns a PKCS#11 HSM into a key
// management service. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/kmipd/kmipd/service"
)

func main() {
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
	return &cli.App{
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
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints
	}
}

// fail is the CLI's error: one line saying what failed, then a hint.
func fail(what error, hint string) error {
	if hint == "" {
		return cli.Exit(what.Error(), 1)
	}
	return cli.Exit(what.Error()+"\n  hint: "+hint, 1)
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
