package routes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	// The tz parameter names IANA zones; the embedded database answers when
	// the host has none (scratch containers), the host's own otherwise.
	_ "time/tzdata"

	"github.com/todo-app/todo/models"
)

// Task body validation. Text is stored byte-exact with one exception: the
// title loses its surrounding white space (Unicode White_Space, as
// strings.TrimSpace). Lengths count Unicode code points. Control characters
// (Unicode Cc) are refused in every text field except tab and line feed;
// a description may also hold carriage returns that begin a CRLF line
// ending, a lone carriage return is refused everywhere. JSON escapes that
// decode to no character (a lone UTF-16 surrogate such as "\ud800") are
// refused rather than replaced with U+FFFD.

// Field names of the task body, in the order errors are reported.
const (
	fieldTitle       = "title"
	fieldDescription = "description"
	fieldCategory    = "category"
	fieldPriority    = "priority"
	fieldStatus      = "status"
	fieldDueDate     = "due_date"
)

const (
	msgRequired    = "is required"
	msgNotNull     = "must not be null"
	msgString      = "must be a string"
	msgStringNull  = "must be a string or null"
	msgEmptyTitle  = "must not be empty or only white space"
	msgControl     = "must not contain control characters other than tab and newline"
	msgSurrogate   = "contains an escaped lone UTF-16 surrogate, which is not a character"
	msgPriority    = `must be 1, 2 or 3, or "low", "medium" or "high"`
	msgStatus      = "must be true or false"
	msgDueDate     = "must be null, an RFC 3339 date-time or a YYYY-MM-DD date, between years 0001 and 9999"
	msgTooLongFmt  = "must be at most %d characters"
	dateOnlyLayout = "2006-01-02"
)

// priorityNames are the names priority accepts, in any case.
var priorityNames = map[string]int{
	"low":    models.PriorityLow,
	"medium": models.PriorityMedium,
	"high":   models.PriorityHigh,
}

// parseTaskBody reads a task body's fields into changes. With create the
// title is required; otherwise every field is optional (PUT and PATCH are
// both partial updates). Every invalid field is reported; unknown and
// read-only members (id, user_id, version, created_at, updated_at,
// completed_at) are ignored.
func parseTaskBody(f fields, create bool) (models.TaskChanges, []FieldError) {
	var ch models.TaskChanges
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }

	if raw, ok := f[fieldTitle]; ok {
		if s, msg := taskText(raw, titleRule); msg != "" {
			bad(fieldTitle, msg)
		} else {
			ch.Title = s
		}
	} else if create {
		bad(fieldTitle, msgRequired)
	}
	if raw, ok := f[fieldDescription]; ok {
		if s, msg := taskText(raw, descriptionRule); msg != "" {
			bad(fieldDescription, msg)
		} else {
			ch.Description = models.Nullable[string]{Set: true, Value: s}
		}
	}
	if raw, ok := f[fieldCategory]; ok {
		if s, msg := taskText(raw, categoryRule); msg != "" {
			bad(fieldCategory, msg)
		} else {
			ch.Category = models.Nullable[string]{Set: true, Value: s}
		}
	}
	if raw, ok := f[fieldPriority]; ok {
		if p, ok := bodyPriority(raw); ok {
			ch.Priority = &p
		} else {
			bad(fieldPriority, msgPriority)
		}
	}
	if raw, ok := f[fieldStatus]; ok {
		switch string(bytes.TrimSpace(raw)) {
		case "true":
			v := true
			ch.Status = &v
		case "false":
			v := false
			ch.Status = &v
		default:
			bad(fieldStatus, msgStatus)
		}
	}
	if raw, ok := f[fieldDueDate]; ok {
		if d, ok := bodyDueDate(raw); ok {
			ch.DueDate = models.Nullable[models.Time]{Set: true, Value: d}
		} else {
			bad(fieldDueDate, msgDueDate)
		}
	}
	return ch, errs
}

// textRule is how one text field is checked.
type textRule struct {
	nullable bool // null clears it
	trim     bool // surrounding white space is dropped; empty is refused
	crlf     bool // CR is allowed as part of CRLF
	maxLen   int  // in code points
}

var (
	titleRule       = textRule{trim: true, maxLen: models.MaxTitleLength}
	descriptionRule = textRule{nullable: true, crlf: true, maxLen: models.MaxDescriptionLength}
	categoryRule    = textRule{nullable: true, maxLen: models.MaxCategoryLength}
)

// taskText reads a text member by its rule; the result is nil for an
// allowed null. The message is empty when the value is valid.
func taskText(raw json.RawMessage, rule textRule) (*string, string) {
	nullable, maxLen := rule.nullable, rule.maxLen
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		if nullable {
			return nil, ""
		}
		return nil, msgNotNull
	}
	if len(raw) == 0 || raw[0] != '"' {
		if nullable {
			return nil, msgStringNull
		}
		return nil, msgString
	}
	if !validSurrogateEscapes(raw) {
		return nil, msgSurrogate
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, msgString
	}
	if rule.trim {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, msgEmptyTitle
		}
	}
	if !validTaskText(s, rule.crlf) {
		return nil, msgControl
	}
	if utf8.RuneCountInString(s) > maxLen {
		return nil, taskTooLong(maxLen)
	}
	return &s, ""
}

func taskTooLong(n int) string { return fmt.Sprintf(msgTooLongFmt, n) }

// validTaskText refuses control characters (Unicode Cc) other than tab and line
// feed; with crlf, a carriage return directly followed by a line feed too.
func validTaskText(s string, crlf bool) bool {
	for i, r := range s {
		if r == '\t' || r == '\n' || !unicode.Is(unicode.Cc, r) {
			continue
		}
		if r == '\r' && crlf && i+1 < len(s) && s[i+1] == '\n' {
			continue
		}
		return false
	}
	return true
}

// validSurrogateEscapes reports whether every \u escape of a UTF-16
// surrogate in the JSON string literal raw is half of a pair; encoding/json
// would silently turn a lone one into U+FFFD.
func validSurrogateEscapes(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue // \" \\ \/ \b ...: the escaped byte is skipped
		}
		r, ok := jsonHex4(raw, i+1)
		if !ok {
			return true // malformed; json.Unmarshal refuses it
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return false
			}
			low, ok := jsonHex4(raw, i+3)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

func jsonHex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(v), err == nil
}

// bodyPriority accepts a JSON integer 1..3 (no fraction or exponent: 2.0 is
// refused) or a priority name in any case.
func bodyPriority(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		p, ok := priorityNames[strings.ToLower(s)]
		return p, ok
	}
	if len(raw) != 1 || raw[0] < '1' || raw[0] > '3' {
		return 0, false
	}
	return int(raw[0] - '0'), true
}

// bodyDueDate accepts null, an RFC 3339 date-time with any offset (stored as
// its UTC instant, truncated to the millisecond), or a YYYY-MM-DD date
// (stored as 00:00:00.000Z UTC of that day). The UTC instant must fall in
// years 0001..9999, the range both engines and the storage format share.
func bodyDueDate(raw json.RawMessage) (*models.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, true
	}
	if len(raw) == 0 || raw[0] != '"' {
		return nil, false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	t, ok := parseDueDate(s)
	if !ok {
		return nil, false
	}
	return &t, true
}

func parseDueDate(s string) (models.Time, bool) {
	var t time.Time
	var err error
	if len(s) == len(dateOnlyLayout) {
		t, err = time.Parse(dateOnlyLayout, s)
	} else {
		// time.Parse alone also takes a one-digit hour, a decimal comma and
		// a +24:00 offset, none of which RFC 3339 allows.
		var ok bool
		if s, ok = rfc3339Shape(s); !ok {
			return models.Time{}, false
		}
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return models.Time{}, false
	}
	mt := models.NewTime(t)
	if y := mt.Year(); y < 1 || y > 9999 {
		return models.Time{}, false
	}
	return mt, true
}

// rfc3339Shape checks the RFC 3339 date-time grammar (digits where digits
// belong, a fraction of at least one digit, Z or an offset of at most
// 23:59) and returns s with a lower-case t or z, which RFC 3339 permits,
// upper-cased for time.Parse. Calendar ranges are left to time.Parse.
func rfc3339Shape(s string) (string, bool) {
	const shape = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(shape)+1 {
		return "", false
	}
	b := []byte(s)
	for i := 0; i < len(shape); i++ {
		switch c := b[i]; shape[i] {
		case 'd':
			if c < '0' || c > '9' {
				return "", false
			}
		case 'T':
			if c != 'T' && c != 't' {
				return "", false
			}
			b[i] = 'T'
		default:
			if c != shape[i] {
				return "", false
			}
		}
	}
	rest := b[len(shape):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return "", false
		}
		rest = rest[n:]
	}
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		rest[0] = 'Z'
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, i := range []int{1, 2, 4, 5} {
			if rest[i] < '0' || rest[i] > '9' {
				return "", false
			}
		}
		if (rest[1]-'0')*10+rest[2]-'0' > 23 || rest[4] > '5' {
			return "", false
		}
	default:
		return "", false
	}
	return string(b), true
}

// Task list query parameters. An empty value counts as absent; for a
// parameter given more than once only the first counts, except priority,
// whose values add up. Unknown parameters are ignored.
const (
	paramLimit    = "limit"
	paramOffset   = "offset"
	paramSkip     = "skip"
	paramStatus   = "status"
	paramPriority = "priority"
	paramCategory = "category"
	paramQ        = "q"
	paramDue      = "due"
	paramTZ       = "tz"
	paramSort     = "sort"
)

// maxQueryLength bounds the search text: nothing longer than the longest
// text field could match.
const maxQueryLength = models.MaxDescriptionLength

// taskListQuery is a parsed list request: the filter, plus what the
// response echoes.
type taskListQuery struct {
	Filter models.TaskFilter
	Limit  int
	Offset int64
}

// parseTaskListQuery reads the list's query parameters. now is the
// reference instant of the due filters.
func parseTaskListQuery(v url.Values, now time.Time) (taskListQuery, []FieldError) {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }
	get := func(name string) string {
		if vs := v[name]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	out := taskListQuery{Limit: models.DefaultTaskListLimit}
	f := &out.Filter

	if s := get(paramLimit); s != "" {
		n, ok := parseDigits(s)
		if !ok || n < 1 || n > models.MaxTaskListLimit {
			bad(paramLimit, "must be an integer from 1 to "+strconv.Itoa(models.MaxTaskListLimit))
		} else {
			out.Limit = int(n)
		}
	}
	offsetName := paramOffset
	s := get(paramOffset)
	if s == "" {
		offsetName, s = paramSkip, get(paramSkip)
	}
	if s != "" {
		if n, ok := parseDigits(s); ok {
			out.Offset = n
		} else {
			bad(offsetName, "must be a non-negative integer")
		}
	}
	switch strings.ToLower(get(paramStatus)) {
	case "", "all":
	case "pending", "false":
		f.Status = new(bool)
	case "completed", "true":
		done := true
		f.Status = &done
	default:
		bad(paramStatus, "must be pending, completed, all, true or false")
	}
	if ps, ok := queryPriorities(v[paramPriority]); ok {
		f.Priorities = ps
	} else {
		bad(paramPriority, "must be 1, 2, 3, low, medium or high (repeat it or separate values with commas)")
	}
	if s := get(paramCategory); s != "" {
		if msg := queryText(s, models.MaxCategoryLength); msg != "" {
			bad(paramCategory, msg)
		} else {
			f.Category = &s
		}
	}
	if s := get(paramQ); s != "" {
		if msg := queryText(s, maxQueryLength); msg != "" {
			bad(paramQ, msg)
		} else {
			f.Query = s
		}
	}
	switch due := models.DueFilter(strings.ToLower(get(paramDue))); due {
	case "":
	case models.DueOverdue, models.DueToday, models.DueWeek, models.DueNone:
		f.Due = due
	default:
		bad(paramDue, "must be overdue, today, week or none")
	}
	f.Location = time.UTC
	if s := get(paramTZ); s != "" {
		if loc, ok := loadZone(s); ok {
			f.Location = loc
		} else {
			bad(paramTZ, "must be an IANA time zone name such as Europe/Paris")
		}
	}
	if s := get(paramSort); s != "" {
		key := strings.ToLower(s)
		desc := strings.HasPrefix(key, "-")
		key = strings.TrimPrefix(key, "-")
		if sk := models.TaskSort(key); models.ValidTaskSort(sk) {
			f.Sort, f.Desc = sk, desc
		} else {
			bad(paramSort, "must be created_at, updated_at, priority, title or due_date, with - in front for descending")
		}
	} else {
		f.Sort, f.Desc = models.SortCreatedAt, true
	}
	f.Now = now
	f.Limit, f.Offset = out.Limit, out.Offset
	return out, errs
}

// parseDigits parses ASCII digits only (no sign, no spaces) into a
// non-negative int64.
func parseDigits(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// queryPriorities reads every priority parameter: each value one priority
// or several separated by commas; empty values count as absent, empty items
// within a list are invalid. Duplicates collapse.
func queryPriorities(values []string) ([]int, bool) {
	var out []int
	for _, list := range values {
		if list == "" {
			continue
		}
		for _, item := range strings.Split(list, ",") {
			p, ok := queryPriority(item)
			if !ok {
				return nil, false
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, true
}

func queryPriority(s string) (int, bool) {
	switch s {
	case "1", "2", "3":
		return int(s[0] - '0'), true
	}
	p, ok := priorityNames[strings.ToLower(s)]
	return p, ok
}

// queryText checks a text parameter as body text is checked.
func queryText(s string, maxLen int) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case !validTaskText(s, false):
		return msgControl
	case utf8.RuneCountInString(s) > maxLen:
		return taskTooLong(maxLen)
	}
	return ""
}

// zoneCache caches loaded time zones; only valid names are kept, so it holds at
// most the IANA database's few hundred entries.
var zoneCache sync.Map

// loadZone loads an IANA zone by name. "Local" (the server's own zone) is
// refused: a client's answer must not depend on where the server runs.
func loadZone(name string) (*time.Location, bool) {
	if z, ok := zoneCache.Load(name); ok {
		return z.(*time.Location), true
	}
	if name == "Local" || !utf8.ValidString(name) || len(name) > 64 {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	zoneCache.Store(name, loc)
	return loc, true
}

// parseTaskID reads the :id path segment: decimal digits only, 1 to
// 2^63-1. Anything else (a sign, 0, overflow, letters) is a 422 on "id".
func parseTaskID(s string) (int64, bool) {
	n, ok := parseDigits(s)
	return n, ok && n > 0
}

// ETags. A task's ETag is the strong "<id>-<version>": the version changes
// with every change and the JSON of one version is always the same bytes.

func taskETag(t *models.Task) string {
	return `"` + strconv.FormatInt(t.ID, 10) + "-" + strconv.Itoa(t.Version) + `"`
}

// ifMatchVersions turns an If-Match header into the versions of task id it
// accepts: nil when there is no header or it is "*" (any version of an
// existing task); otherwise the versions named, by ETag ("<id>-<version>",
// W/ prefix tolerated) or as a bare version number, quoted or not. Entries
// for another task or that cannot be read match nothing, so the result is
// non-nil and possibly empty.
func ifMatchVersions(header string, id int64) []int {
	header = strings.TrimSpace(header)
	if header == "" {
		return nil
	}
	versions := []int{}
	for _, item := range strings.Split(header, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			return nil
		}
		if v, ok := etagVersion(item, id); ok {
			versions = append(versions, v)
		}
	}
	return versions
}

// etagVersion reads one entity tag (or bare version) of task id.
func etagVersion(tag string, id int64) (int, bool) {
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		tag = tag[1 : len(tag)-1]
	}
	if idPart, verPart, ok := strings.Cut(tag, "-"); ok {
		tid, ok := parseDigits(idPart)
		if !ok || tid != id {
			return 0, false
		}
		tag = verPart
	}
	v, ok := parseDigits(tag)
	if !ok || v < 1 || v > 1<<31-1 {
		return 0, false
	}
	return int(v), true
}

// noneMatch reports whether an If-None-Match header matches the task's
// current ETag (weak comparison, as RFC 9110 asks for If-None-Match).
func noneMatch(header string, t *models.Task) bool {
	for _, item := range strings.Split(header, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		if v, ok := etagVersion(item, t.ID); ok && v == t.Version {
			return true
		}
	}
	return false
}
