// Command gencldr writes i18n/cldr/<locale>.json.gz: the day and month names and the time-zone
// city names of every CLDR locale, taken from the Unicode consortium's CLDR JSON as published
// in the cldr-dates-full and cldr-bcp47 packages (versions pinned below). It is run by
// `go generate ./i18n` and needs npm only then; Puente reads the embedded result and never
// downloads anything while running.
//
// A locale's file holds only what it needs: a city is written only where its name differs
// from the one derived from the zone id ("America/New_York" -> "New York"), and a regional
// locale (es-MX) only when some of its data differs from its parent's (es).
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// Pinned sources; bump both together.
const (
	datesPackage = "cldr-dates-full@48.2.0"
	bcp47Package = "cldr-bcp47@48.2.0"
)

// Names is one locale's data, the format read by package i18n.
type Names struct {
	Months      [12]string        `json:"months"`       // format context, wide: "março"
	MonthsShort [12]string        `json:"months_short"` // format context, abbreviated: "mar."
	Days        [7]string         `json:"days"`         // Sunday first, wide: "quinta-feira"
	DaysShort   [7]string         `json:"days_short"`   // Sunday first, abbreviated: "qui."
	Cities      map[string]string `json:"cities,omitempty"`
}

func main() {
	out := flag.String("out", "cldr", "directory to write <locale>.json.gz into")
	dates := flag.String("dates", "", "a "+datesPackage+" tarball (default: npm pack it)")
	bcp := flag.String("bcp47", "", "a "+bcp47Package+" tarball (default: npm pack it)")
	flag.Parse()
	if err := run(*out, *dates, *bcp); err != nil {
		log.Fatal(err)
	}
}

func run(out, datesTar, bcpTar string) error {
	tmp, err := os.MkdirTemp("", "gencldr")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if datesTar == "" {
		if datesTar, err = npmPack(tmp, datesPackage); err != nil {
			return err
		}
	}
	if bcpTar == "" {
		if bcpTar, err = npmPack(tmp, bcp47Package); err != nil {
			return err
		}
	}
	bcpFiles, err := readTar(bcpTar, func(name string) bool { return name == "package/bcp47/timezone.json" })
	if err != nil {
		return err
	}
	aliases, err := zoneAliases(bcpFiles["package/bcp47/timezone.json"])
	if err != nil {
		return err
	}
	files, err := readTar(datesTar, func(name string) bool {
		return name == "package/LICENSE" || strings.HasSuffix(name, "/ca-gregorian.json") || strings.HasSuffix(name, "/timeZoneNames.json")
	})
	if err != nil {
		return err
	}
	all := map[string]*Names{}
	for name := range files {
		dir, base := path.Split(name)
		if base != "ca-gregorian.json" {
			continue
		}
		locale := path.Base(dir)
		n, err := parseLocale(locale, files[name], files[dir+"timeZoneNames.json"], aliases)
		if err != nil {
			return fmt.Errorf("%s: %w", locale, err)
		}
		all[locale] = n
	}
	if all["en"] == nil {
		return errors.New("no en locale in " + datesPackage)
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The data's licence (Unicode License v3) travels with it.
	if err := os.WriteFile(filepath.Join(out, "LICENSE"), files["package/LICENSE"], 0o644); err != nil {
		return err
	}
	written := 0
	for locale, n := range all {
		if p := parent(locale, all); p != nil && reflect.DeepEqual(p, n) {
			continue
		}
		buf, err := json.Marshal(n)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if _, err := zw.Write(append(buf, '\n')); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, locale+".json.gz"), gz.Bytes(), 0o644); err != nil {
			return err
		}
		written++
	}
	log.Printf("wrote %d of %d locales to %s", written, len(all), out)
	return nil
}

// parent is the locale's nearest ancestor by truncation ("es-MX" -> "es"), or nil.
func parent(locale string, all map[string]*Names) *Names {
	for {
		i := strings.LastIndexByte(locale, '-')
		if i < 0 {
			return nil
		}
		locale = locale[:i]
		if n := all[locale]; n != nil {
			return n
		}
	}
}

func npmPack(dir, pkg string) (string, error) {
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dir, pkg)
	cmd.Stderr = os.Stderr
	name, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s: %w", pkg, err)
	}
	return filepath.Join(dir, strings.TrimSpace(string(name))), nil
}

func readTar(file string, want func(string) bool) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg || !want(h.Name) {
			continue
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, tr); err != nil {
			return nil, err
		}
		files[h.Name] = b.Bytes()
	}
}

// zoneAliases maps each CLDR zone id to all the ids it stands for ("America/Buenos_Aires"
// -> [America/Buenos_Aires America/Argentina/Buenos_Aires]).
func zoneAliases(buf []byte) (map[string][]string, error) {
	var doc struct {
		Keyword struct {
			U struct {
				TZ map[string]json.RawMessage `json:"tz"`
			} `json:"u"`
		} `json:"keyword"`
	}
	if err := json.Unmarshal(buf, &doc); err != nil {
		return nil, fmt.Errorf("bcp47 timezone.json: %w", err)
	}
	out := map[string][]string{}
	for _, raw := range doc.Keyword.U.TZ {
		var z struct {
			Alias string `json:"_alias"`
		}
		if json.Unmarshal(raw, &z) != nil || z.Alias == "" {
			continue
		}
		ids := strings.Fields(z.Alias)
		out[ids[0]] = ids
	}
	return out, nil
}

var dayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseLocale(locale string, greg, tzn []byte, aliases map[string][]string) (*Names, error) {
	var g struct {
		Main map[string]struct {
			Dates struct {
				Calendars struct {
					Gregorian struct {
						Months struct {
							Format map[string]map[string]string `json:"format"`
						} `json:"months"`
						Days struct {
							Format map[string]map[string]string `json:"format"`
						} `json:"days"`
					} `json:"gregorian"`
				} `json:"calendars"`
			} `json:"dates"`
		} `json:"main"`
	}
	if err := json.Unmarshal(greg, &g); err != nil {
		return nil, err
	}
	cal := g.Main[locale].Dates.Calendars.Gregorian
	n := &Names{}
	for i := range 12 {
		k := fmt.Sprint(i + 1)
		n.Months[i] = cal.Months.Format["wide"][k]
		n.MonthsShort[i] = cal.Months.Format["abbreviated"][k]
	}
	for i, k := range dayKeys {
		n.Days[i] = cal.Days.Format["wide"][k]
		n.DaysShort[i] = cal.Days.Format["abbreviated"][k]
	}
	if tzn == nil {
		return n, nil
	}
	var t struct {
		Main map[string]struct {
			Dates struct {
				TimeZoneNames struct {
					Zone map[string]any `json:"zone"`
				} `json:"timeZoneNames"`
			} `json:"dates"`
		} `json:"main"`
	}
	if err := json.Unmarshal(tzn, &t); err != nil {
		return nil, err
	}
	cities := map[string]string{}
	walkZones("", t.Main[locale].Dates.TimeZoneNames.Zone, func(id, city string) {
		ids := aliases[id]
		if len(ids) == 0 {
			ids = []string{id}
		}
		for _, id := range ids {
			if city != DefaultCity(id) {
				cities[id] = city
			}
		}
	})
	if len(cities) > 0 {
		n.Cities = cities
	}
	return n, nil
}

// walkZones visits every zone with an exemplar city in CLDR's nested zone tree.
func walkZones(prefix string, tree map[string]any, visit func(id, city string)) {
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub, ok := tree[k].(map[string]any)
		if !ok {
			continue
		}
		id := k
		if prefix != "" {
			id = prefix + "/" + k
		}
		if city, ok := sub["exemplarCity"].(string); ok {
			visit(id, city)
			continue
		}
		if _, isZone := sub["_type"]; !isZone {
			walkZones(id, sub, visit)
		}
	}
}

// DefaultCity is CLDR's fallback city name for a zone id: its last part with spaces for
// underscores. Package i18n applies the same rule (keep the two in step).
func DefaultCity(id string) string {
	return strings.ReplaceAll(id[strings.LastIndexByte(id, '/')+1:], "_", " ")
}
