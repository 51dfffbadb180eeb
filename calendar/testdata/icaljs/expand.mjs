// Expands every VEVENT of the iCalendar stream on stdin with Mozilla's ical.js (the parser of
// Thunderbird), which resolves a TZID only from the file's own VTIMEZONE components, and prints
// one JSON array of {uid, recurrenceId, start, end, status, summary} (instants as UTC ISO 8601)
// for the occurrences that start in [FROM, TO).
//
//   node expand.mjs 2026-01-01T00:00:00Z 2027-01-01T00:00:00Z < feed.ics
//
// It exits 1 when a date-time has a TZID without a VTIMEZONE or is floating.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

const [fromArg, toArg] = process.argv.slice(2);
if (!fromArg || !toArg) {
  console.error('usage: node expand.mjs FROM TO < calendar.ics');
  process.exit(2);
}
const from = Date.parse(fromArg);
const to = Date.parse(toArg);

const root = new ICAL.Component(ICAL.parse(readFileSync(0, 'utf8')));
const problems = [];

// Every DATE-TIME of an event must be in UTC or in a zone this file declares.
const timeProps = ['dtstart', 'dtend', 'recurrence-id', 'exdate', 'rdate'];
const vevents = root.getAllSubcomponents('vevent');
for (const ev of vevents) {
  for (const name of timeProps) {
    for (const prop of ev.getAllProperties(name)) {
      const tzid = prop.getParameter('tzid');
      if (tzid && !root.getTimeZoneByID(tzid)) {
        problems.push(`${name}: TZID ${tzid} has no VTIMEZONE in the file`);
      }
      for (const t of prop.getValues()) {
        const zone = t.zone;
        if (!zone || zone === ICAL.Timezone.localTimezone) {
          problems.push(`${name}: floating time ${t.toString()} (uid ${ev.getFirstPropertyValue('uid')})`);
        }
      }
    }
  }
}

const iso = (t) => t.toJSDate().toISOString();
const props = (event) => ({
  status: event.component.getFirstPropertyValue('status') || '',
  summary: event.summary || '',
});

// Group overrides with their master by UID.
const masters = new Map();
const exceptions = [];
for (const comp of vevents) {
  const event = new ICAL.Event(comp);
  if (event.isRecurrenceException()) {
    exceptions.push(event);
  } else {
    masters.set(event.uid, event);
  }
}

const out = [];
const push = (uid, recurrenceId, start, end, event) => {
  const s = start.toJSDate().getTime();
  if (s < from || s >= to) {
    return;
  }
  out.push({ uid, recurrenceId, start: iso(start), end: iso(end), ...props(event) });
};

for (const ex of exceptions) {
  const master = masters.get(ex.uid);
  if (master && master.isRecurring()) {
    master.relateException(ex);
  } else {
    // An override without a master in this file (one occurrence sent alone).
    push(ex.uid, ex.recurrenceId.toICALString(), ex.startDate, ex.endDate, ex);
  }
}

for (const [uid, event] of masters) {
  if (!event.isRecurring()) {
    push(uid, null, event.startDate, event.endDate, event);
    continue;
  }
  const it = event.iterator();
  for (let n = 0; n < 100000; n++) {
    const next = it.next();
    if (!next) {
      break;
    }
    const d = event.getOccurrenceDetails(next);
    if (next.toJSDate().getTime() >= to && d.startDate.toJSDate().getTime() >= to) {
      // Overrides may move an occurrence by at most a few weeks: look a little further.
      if (next.toJSDate().getTime() >= to + 60 * 86400e3) {
        break;
      }
    }
    push(uid, next.toICALString(), d.startDate, d.endDate, d.item);
  }
}

// Overrides whose RECURRENCE-ID the master does not yield are lost by most clients: report them.
for (const ex of exceptions) {
  const master = masters.get(ex.uid);
  if (!master || !master.isRecurring()) {
    continue;
  }
  const it = master.iterator();
  let found = false;
  for (let n = 0; n < 100000; n++) {
    const next = it.next();
    if (!next || next.compare(ex.recurrenceId) > 0) {
      break;
    }
    if (next.compare(ex.recurrenceId) === 0) {
      found = true;
      break;
    }
  }
  if (!found) {
    problems.push(`override ${ex.uid} ${ex.recurrenceId.toICALString()} matches no occurrence of its master`);
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.uid < b.uid ? -1 : 1));
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
