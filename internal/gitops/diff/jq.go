package diff

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/itchyny/gojq"
)

// JQTimeout bounds one jq path expression on one object, as Argo CD's
// ignore.normalizer.jq.timeout (default 1 s) does: an expression is user
// input, and a slow one must not stall the comparison of every other app.
const JQTimeout = time.Second

// Argo CD's ignoreDifferences.jqPathExpressions run with gojq, the jq that
// Argo CD uses, so that an expression behaves as it does there. Each
// expression designates fields, and del(expression) removes them.
const jqDelete = "del(%s)"

type jqCompiled struct {
	code *gojq.Code
	err  error
}

// jqCodes caches compiled queries by expression: rules apply to every object
// at every refresh, and compiling is the slow part. Expressions come from
// Application specs, so the cache stays small.
var jqCodes sync.Map

func compileJQ(expr string) (*gojq.Code, error) {
	if c, ok := jqCodes.Load(expr); ok {
		return c.(jqCompiled).code, c.(jqCompiled).err
	}
	var c jqCompiled
	// The expression must parse on its own, so that it cannot close the
	// del( around it and add a query of its own.
	_, err := gojq.Parse(expr)
	var q *gojq.Query
	if err == nil {
		q, err = gojq.Parse(fmt.Sprintf(jqDelete, expr))
	}
	if err == nil {
		// Without gojq.WithEnvironLoader, env and $ENV are empty: a jq
		// expression is an app author's input and must not read gantry's
		// environment (TestJQNoEnvironment).
		c.code, err = gojq.Compile(q)
	}
	if err != nil {
		c.err = fmt.Errorf("jqPathExpression %q: %w", expr, err)
	}
	jqCodes.Store(expr, c)
	return c.code, c.err
}

// ValidateJQ reports an expression that does not parse or compile, naming it.
func ValidateJQ(expr string) error {
	_, err := compileJQ(expr)
	return err
}

// runJQ runs a compiled query on obj and returns its one result. A query that
// fails on this object (it iterates over a field the object lacks, say) or
// takes too long leaves obj as it was, as Argo CD skips a normalization that
// fails; ok says whether it applied.
func runJQ(code *gojq.Code, obj map[string]any) (out map[string]any, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), JQTimeout)
	defer cancel()
	iter := code.RunWithContext(ctx, toJQ(obj))
	v, more := iter.Next()
	if !more {
		return obj, false
	}
	if _, isErr := v.(error); isErr {
		return obj, false
	}
	if _, again := iter.Next(); again {
		return obj, false // several results: not a path deletion
	}
	m, isMap := fromJQ(v).(map[string]any)
	if !isMap {
		return obj, false
	}
	return m, true
}

// removeJQ removes the fields expr designates from obj.
func removeJQ(obj map[string]any, expr string) (map[string]any, error) {
	code, err := compileJQ(expr)
	if err != nil {
		return nil, err
	}
	out, _ := runJQ(code, obj)
	return out, nil
}

// toJQ converts an unstructured value to the types gojq takes (int, float64,
// string, bool, nil, []any, map[string]any); unstructured objects hold int64.
func toJQ(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, cv := range t {
			out[k] = toJQ(cv)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, cv := range t {
			out[i] = toJQ(cv)
		}
		return out
	case int64:
		return int(t)
	case int32:
		return int(t)
	case float32:
		return float64(t)
	}
	return v
}

// fromJQ converts gojq's result back: integers as int64, as unstructured
// objects hold them.
func fromJQ(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, cv := range t {
			t[k] = fromJQ(cv)
		}
		return t
	case []any:
		for i, cv := range t {
			t[i] = fromJQ(cv)
		}
		return t
	case int:
		return int64(t)
	}
	return v
}
