// Package preset describes the servers Gatehouse knows how to front as a
// drop-in: for each, its route policy (embedded in the binary) and the
// conventions of the server's own, unchangeable clients. A preset is data:
// the request path never asks which preset is in force, only what these
// fields say.
package preset

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Preset is what serve --preset NAME adds.
type Preset struct {
	// Name is the value of --preset.
	Name string
	// Server names the server and version the preset is written for.
	Server string
	// Policy is the preset's policy directory: policy.csv, tests.yaml and,
	// when the preset has one, model.conf. It is used unless --policy-dir
	// is given.
	Policy fs.FS
	// LoginPath is where the server's clients log in with an OAuth2
	// password form (RFC 6749, section 4.3). Gatehouse answers it itself
	// and never forwards it. Empty when the clients have no such login.
	LoginPath string
	// ErrorDetail adds "detail" to each JSON error Gatehouse writes, with
	// the same message: the clients read FastAPI's error shape.
	ErrorDetail bool
}

//go:embed zenml
var files embed.FS

// all returns every preset, in the order --help shows them.
func all() []Preset {
	return []Preset{
		{
			Name:        "zenml",
			Server:      "ZenML 0.40",
			Policy:      sub("zenml"),
			LoginPath:   "/api/v1/login",
			ErrorDetail: true,
		},
	}
}

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return f
}

// Lookup returns the preset called name.
func Lookup(name string) (Preset, error) {
	ps := all()
	i := slices.IndexFunc(ps, func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return Preset{}, fmt.Errorf("unknown preset %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	return ps[i], nil
}

// Names returns the names of every preset.
func Names() []string {
	ps := all()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}
