package api

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// reportCSVHeader is the first line of the access report as CSV.
var reportCSVHeader = []string{"user", "kind", "active", "permission", "workspace", "via", "rule"}

// reportFlushEvery is how many rows the access report writes between
// flushes, so that a client sees rows while the report runs.
const reportFlushEvery = 256

// accessReport streams GET /access-report as JSON ({"items":[…]}, one row
// at a time) or, with format=csv or Accept: text/csv, as CSV. The filter
// is checked before anything is written, so a bad one is an error in the
// usual shape; an error once rows are out aborts the response, so that a
// client never takes a cut report for a whole one.
func (a *API) accessReport(c *gin.Context) {
	f := admin.ReportFilter{
		User: c.Query("user"), Role: c.Query("role"), Team: c.Query("team"),
		Method: c.Query("method"), Path: c.Query("path"),
	}
	asCSV, err := reportFormat(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	if f.Path != "" {
		// The route is decided as the data plane would decide it: on the
		// canonical path, or not at all.
		if f.Path, err = a.opts.Canonicalize(f.Path); err != nil {
			a.fail(c, fieldErr("path", "%v", err))
			return
		}
	}
	w := &reportWriter{c: c, csv: asCSV}
	err = a.svc.AccessReport(c.Request.Context(), f, w.row)
	switch {
	case err != nil && !w.started:
		a.fail(c, err)
	case err != nil:
		a.log.Warn("access report aborted", "error", err.Error(), "rows", w.n)
		panic(http.ErrAbortHandler)
	default:
		w.finish()
	}
}

// reportFormat reads format (json or csv), else the Accept header.
func reportFormat(c *gin.Context) (bool, error) {
	switch c.Query("format") {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(c.GetHeader("Accept"), "text/csv"), nil
	}
	return false, fieldErr("format", "must be json or csv")
}

// reportWriter writes the rows of one report as they come.
type reportWriter struct {
	c       *gin.Context
	csv     bool
	cw      *csv.Writer
	started bool
	n       int
}

func (w *reportWriter) start() {
	w.started = true
	h := w.c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	if w.csv {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		w.c.Status(http.StatusOK)
		w.cw = csv.NewWriter(w.c.Writer)
		_ = w.cw.Write(reportCSVHeader)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.c.Status(http.StatusOK)
	_, _ = w.c.Writer.WriteString(`{"items":[`)
}

func (w *reportWriter) row(r admin.ReportRow) error {
	if !w.started {
		w.start()
	}
	if w.csv {
		if err := w.cw.Write([]string{r.User, r.Kind, strconv.FormatBool(r.Active), r.Permission, r.Workspace, strings.Join(r.Via, " > "), r.Rule}); err != nil {
			return err
		}
	} else {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if w.n > 0 {
			b = append([]byte{','}, b...)
		}
		if _, err := w.c.Writer.Write(b); err != nil {
			return err
		}
	}
	w.n++
	if w.n%reportFlushEvery == 0 {
		w.flush()
	}
	return w.c.Request.Context().Err()
}

func (w *reportWriter) flush() {
	if w.cw != nil {
		w.cw.Flush()
	}
	w.c.Writer.Flush()
}

// finish ends a report that ran to its end (it may have no rows).
func (w *reportWriter) finish() {
	if !w.started {
		w.start()
	}
	if !w.csv {
		_, _ = w.c.Writer.WriteString("]}\n")
	}
	w.flush()
}
