import { createReadStream } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { CsvOptions } from "../types";

/**
 * Where a text file first breaks its format, in the user's terms: the line and column (both from
 * 1; columns count characters) and what is wrong there. DuckDB's own messages give a byte offset
 * inside a record, or none at all (a CSV file it cannot "sniff"), and end in hints about reader
 * options the user never set; so when DuckDB refuses a file, it is scanned again here, once,
 * front to back, with constant memory, by a scanner of the format the source declares.
 */
export interface SyntaxProblem {
  line: number;
  column: number;
  problem: string;
}

/** How far a file is scanned for its first problem: past this, DuckDB's message stands alone. */
export const SYNTAX_SCAN_LIMIT_BYTES = 256 * 1024 * 1024;

/** A scanner fed characters one at a time; `at` is the position of the character fed. */
interface Scanner {
  feed(ch: string, at: Position): SyntaxProblem | null;
  end(at: Position): SyntaxProblem | null;
}

interface Position {
  line: number;
  column: number;
}

/**
 * The first problem of `file` read as `format`, or null when the scanned part is well-formed (the
 * cause is then something else, such as a value DuckDB cannot convert).
 */
export async function locateSyntaxError(
  file: string,
  format: "csv" | "json" | "jsonl",
  csv: CsvOptions = {},
  limitBytes = SYNTAX_SCAN_LIMIT_BYTES,
): Promise<SyntaxProblem | null> {
  return scan(file, format === "csv" ? new CsvScanner(csv) : new JsonScanner(format), limitBytes);
}

/**
 * Where `needle` (a value as the file writes it) first occurs in record `record` of `file`: a
 * line of a CSV or JSON Lines file, an element of a JSON array (from 1). DuckDB names the record
 * of a value it cannot convert, not its place; `problem` is what the answer says. Null when the
 * record or the value is not found in the scanned part.
 */
export async function locateRecordValue(
  file: string,
  format: "csv" | "json" | "jsonl",
  record: number,
  needle: string,
  problem: string,
  limitBytes = SYNTAX_SCAN_LIMIT_BYTES,
): Promise<SyntaxProblem | null> {
  return scan(file, new ValueFinder(format, record, needle, problem), limitBytes);
}

async function scan(file: string, scanner: Scanner, limitBytes: number): Promise<SyntaxProblem | null> {
  const decoder = new StringDecoder("utf8");
  const at: Position = { line: 1, column: 0 };
  let previous = "";
  const feed = (text: string): SyntaxProblem | null => {
    for (const ch of text) {
      // A line ends at \n; a \r before it belongs to the line ending, not to a column.
      if (previous === "\n") {
        at.line++;
        at.column = 0;
      }
      if (ch !== "\r") at.column++;
      previous = ch;
      const found = scanner.feed(ch, at);
      if (found) return found;
    }
    return null;
  };
  const stream = createReadStream(file, { end: limitBytes - 1, highWaterMark: 1 << 16 });
  try {
    for await (const chunk of stream) {
      const found = feed(decoder.write(chunk as Buffer));
      if (found) return found;
    }
    const found = feed(decoder.end());
    if (found) return found;
    if (stream.bytesRead >= limitBytes) return null;
    return scanner.end(previous === "\n" ? { line: at.line + 1, column: 1 } : { line: at.line, column: at.column + 1 });
  } finally {
    stream.destroy();
  }
}

/** The characters of one record, with their positions, searched for a value once the record ends. */
class ValueFinder implements Scanner {
  private readonly json: JsonScanner | null;
  private readonly text: string[] = [];
  private readonly at: Position[] = [];

  constructor(
    format: "csv" | "json" | "jsonl",
    private readonly record: number,
    private readonly needle: string,
    private readonly problem: string,
  ) {
    this.json = format === "json" ? new JsonScanner("json") : null;
  }

  feed(ch: string, at: Position): SyntaxProblem | null {
    let inRecord: boolean;
    if (this.json) {
      this.json.feed(ch, at);
      inRecord = this.json.elementsStarted === this.record && this.json.depth >= 2;
      if (this.json.elementsStarted > this.record || (this.text.length > 0 && !inRecord)) return this.search();
    } else {
      if (at.line > this.record) return this.search();
      inRecord = at.line === this.record && ch !== "\n";
    }
    // A record longer than a million characters is searched no further.
    if (inRecord && this.text.length < 1_000_000) {
      this.text.push(ch);
      this.at.push({ ...at });
    }
    return null;
  }

  end(): SyntaxProblem | null {
    return this.text.length ? this.search() : null;
  }

  private search(): SyntaxProblem | null {
    if (this.text.length === 0) return null;
    const needle = Array.from(this.needle);
    for (let i = 0; i + needle.length <= this.text.length; i++) {
      if (needle.every((ch, k) => this.text[i + k] === ch)) return { ...this.at[i], problem: this.problem };
    }
    // The value is written otherwise (escaped, quoted): the record's start is still the place.
    const first = this.text.findIndex((ch) => !WHITESPACE.has(ch));
    return { ...this.at[Math.max(0, first)], problem: this.problem };
  }
}

/** How a JSON value that starts with `ch` is called in a message. */
function valueKind(ch: string): string {
  if (ch === "{") return "an object";
  if (ch === "[") return "an array";
  if (ch === '"') return "a string";
  if (ch === "t" || ch === "f") return "a boolean";
  if (ch === "n") return "null";
  return "a number";
}

const shown = (ch: string): string => (ch === "\n" ? "the end of the line" : /\s/.test(ch) ? "a space" : `'${ch}'`);
/** JSON's whitespace, and a byte-order mark, which DuckDB skips too. */
const WHITESPACE = new Set([" ", "\t", "\n", "\r", "\uFEFF"]);
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * A JSON syntax checker that also checks the shape rows need: `jsonl`, one object per line;
 * `json`, an array of objects or objects one after another.
 */
class JsonScanner implements Scanner {
  /** The open containers, innermost last. */
  private readonly stack: Array<"array" | "object"> = [];
  /** What the next significant character must be. */
  private expect: "top" | "value" | "valueOrEnd" | "keyOrEnd" | "key" | "colon" | "commaOrEnd" | "afterTop" = "top";
  private inString = false;
  private stringIsKey = false;
  private escape = 0; // 1 after a backslash; 2..5 inside \uXXXX
  private token = ""; // a number or literal being read
  private topArray = false;
  private element = 0;
  private opened: Position = { line: 1, column: 1 };

  constructor(private readonly format: "json" | "jsonl") {}

  /** How many elements of a top-level array have begun. */
  get elementsStarted(): number {
    return this.element;
  }

  /** How many containers are open (1 inside a top-level array, 2 inside one of its objects). */
  get depth(): number {
    return this.stack.length;
  }

  feed(ch: string, at: Position): SyntaxProblem | null {
    if (this.inString) return this.stringChar(ch, at);
    if (this.token) {
      if (/[0-9a-zA-Z+\-.]/.test(ch)) {
        this.token += ch;
        return null;
      }
      const done = this.endToken();
      if (done) return done;
    }
    if (this.format === "jsonl" && ch === "\n" && (this.stack.length > 0 || this.expect === "colon")) {
      return { ...at, problem: "the line ends before its object is complete (JSON Lines holds one whole object per line)" };
    }
    if (WHITESPACE.has(ch)) {
      if (this.format === "jsonl" && ch === "\n" && this.expect === "afterTop") this.expect = "top";
      return null;
    }
    switch (this.expect) {
      case "top":
        return this.topValue(ch, at);
      case "afterTop":
        if (this.format === "jsonl") return { ...at, problem: `unexpected ${shown(ch)} after the line's object (one object per line)` };
        if (this.topArray) return { ...at, problem: `unexpected ${shown(ch)} after the end of the array` };
        return this.topValue(ch, at);
      case "valueOrEnd":
        if (ch === "]") return this.close();
        return this.value(ch, at);
      case "value":
        return this.value(ch, at);
      case "keyOrEnd":
        if (ch === "}") return this.close();
        return this.key(ch, at);
      case "key":
        return this.key(ch, at);
      case "colon":
        if (ch === ":") {
          this.expect = "value";
          return null;
        }
        return { ...at, problem: `expected ':' after the key, found ${shown(ch)}` };
      case "commaOrEnd": {
        const inside = this.stack[this.stack.length - 1];
        if (ch === ",") {
          this.expect = inside === "object" ? "key" : "value";
          return null;
        }
        if ((ch === "]" && inside === "array") || (ch === "}" && inside === "object")) return this.close();
        return { ...at, problem: `expected ',' or '${inside === "object" ? "}" : "]"}' after a value, found ${shown(ch)}` };
      }
    }
  }

  end(at: Position): SyntaxProblem | null {
    if (this.inString) return { ...this.opened, problem: "a string opened here is never closed" };
    if (this.token) {
      const done = this.endToken();
      if (done) return done;
    }
    if (this.stack.length > 0) {
      const what = this.stack[this.stack.length - 1] === "object" ? "an object" : "an array";
      return { ...at, problem: `the file ends inside ${what} (is it truncated?)` };
    }
    if (this.expect === "top" && this.format === "json") return { ...at, problem: "the file holds no JSON value" };
    if (this.topArray && this.element === 0) return { ...at, problem: "the array is empty: the file holds no rows" };
    return null;
  }

  private topValue(ch: string, at: Position): SyntaxProblem | null {
    if (this.format === "json" && ch === "[" && this.expect === "top") {
      this.topArray = true;
      this.stack.push("array");
      this.expect = "valueOrEnd";
      return null;
    }
    if (ch !== "{") {
      const shape =
        this.format === "jsonl" ? "each line must hold one JSON object" : "the file must hold a JSON array of objects, or objects";
      return { ...at, problem: `${shape}; found ${ch === "]" || ch === "}" || ch === "," || ch === ":" ? shown(ch) : valueKind(ch)}` };
    }
    return this.value(ch, at);
  }

  private value(ch: string, at: Position): SyntaxProblem | null {
    if (this.topArray && this.stack.length === 1) {
      this.element++;
      if (ch !== "{") {
        const found = ch === "]" || ch === "}" || ch === "," || ch === ":" ? shown(ch) : valueKind(ch);
        return { ...at, problem: `element ${this.element} of the array is ${found}, not an object (each element is one row)` };
      }
    }
    if (ch === "{" || ch === "[") {
      this.stack.push(ch === "{" ? "object" : "array");
      this.expect = ch === "{" ? "keyOrEnd" : "valueOrEnd";
      return null;
    }
    if (ch === '"') {
      this.inString = true;
      this.stringIsKey = false;
      this.opened = { ...at };
      return null;
    }
    if (/[-0-9tfn]/.test(ch)) {
      this.token = ch;
      this.opened = { ...at };
      return null;
    }
    return { ...at, problem: `expected a value, found ${shown(ch)}` };
  }

  private key(ch: string, at: Position): SyntaxProblem | null {
    if (ch !== '"') return { ...at, problem: `expected a key in double quotes, found ${shown(ch)}` };
    this.inString = true;
    this.stringIsKey = true;
    this.opened = { ...at };
    return null;
  }

  private stringChar(ch: string, at: Position): SyntaxProblem | null {
    if (this.escape === 1) {
      if (ch === "u") this.escape = 2;
      else if ('"\\/bfnrt'.includes(ch)) this.escape = 0;
      else return { ...at, problem: `\\${ch} is not a JSON escape` };
      return null;
    }
    if (this.escape >= 2) {
      if (!/[0-9a-fA-F]/.test(ch)) return { ...at, problem: "\\u must be followed by four hexadecimal digits" };
      this.escape = this.escape === 5 ? 0 : this.escape + 1;
      return null;
    }
    if (ch === "\\") this.escape = 1;
    else if (ch === '"') {
      this.inString = false;
      this.afterValue(this.stringIsKey);
    } else if (ch < " ") {
      return { ...at, problem: ch === "\n" ? "the line ends inside a string" : "a control character inside a string must be escaped" };
    }
    return null;
  }

  private endToken(): SyntaxProblem | null {
    const token = this.token;
    this.token = "";
    if (token === "true" || token === "false" || token === "null" || NUMBER.test(token)) {
      this.afterValue(false);
      return null;
    }
    return { ...this.opened, problem: `${token.length > 20 ? token.slice(0, 20) + "…" : token} is not a JSON value` };
  }

  private close(): null {
    this.stack.pop();
    this.afterValue(false);
    return null;
  }

  /** After a key (then a colon) or a whole value (then a comma, a closing bracket, or the next row). */
  private afterValue(isKey: boolean): void {
    if (isKey) this.expect = "colon";
    else this.expect = this.stack.length === 0 ? "afterTop" : "commaOrEnd";
  }
}

/**
 * A CSV record checker for the dialect the reader is given: quoted values must close, and every
 * record must have as many values as the first (the header, when there is one).
 */
class CsvScanner implements Scanner {
  private readonly delimiter: string;
  private readonly quote: string;
  private readonly escape: string;
  private expected = 0;
  private fields = 1;
  private record = 0;
  private state: "start" | "unquoted" | "quoted" | "afterQuote" | "escaped" = "start";
  private blank = true;
  private opened: Position = { line: 1, column: 1 };
  private extraAt: Position | null = null;
  private readonly header: boolean;

  constructor(options: CsvOptions) {
    this.delimiter = (options.delimiter ?? ",")[0] ?? ",";
    this.quote = (options.quote ?? '"')[0] ?? '"';
    this.escape = (options.escape ?? this.quote)[0] ?? this.quote;
    this.header = options.header ?? true;
  }

  feed(ch: string, at: Position): SyntaxProblem | null {
    if (ch === "\r" && this.state !== "quoted") return null;
    switch (this.state) {
      case "quoted":
        if (ch === this.escape && this.escape !== this.quote) this.state = "escaped";
        else if (ch === this.quote) this.state = "afterQuote";
        return null;
      case "escaped":
        this.state = "quoted";
        return null;
      case "afterQuote":
        // A doubled quote inside a quoted value stands for one quote.
        if (ch === this.quote && this.escape === this.quote) {
          this.state = "quoted";
          return null;
        }
        if (ch !== this.delimiter && ch !== "\n")
          return { ...at, problem: `unexpected ${shown(ch)} after a closing quote (a quote inside a quoted value is written twice)` };
        break;
    }
    if (ch === "\n") return this.endRecord(at);
    this.blank = false;
    if (ch === this.delimiter) {
      this.fields++;
      if (this.expected > 0 && this.fields === this.expected + 1) this.extraAt = { line: at.line, column: at.column + 1 };
      this.state = "start";
    } else if (ch === this.quote && this.state === "start") {
      this.state = "quoted";
      this.opened = { ...at };
    } else this.state = "unquoted";
    return null;
  }

  end(at: Position): SyntaxProblem | null {
    if (this.state === "quoted" || this.state === "escaped")
      return { ...this.opened, problem: "a quoted value opened here is never closed" };
    return this.blank ? null : this.endRecord(at);
  }

  private endRecord(at: Position): SyntaxProblem | null {
    const blank = this.blank;
    const fields = this.fields;
    const extraAt = this.extraAt;
    this.fields = 1;
    this.blank = true;
    this.state = "start";
    this.extraAt = null;
    if (blank) return null;
    this.record++;
    if (this.expected === 0) {
      this.expected = fields;
      return null;
    }
    if (fields === this.expected) return null;
    const reference = this.header ? "the header has" : "the first row has";
    if (fields > this.expected && extraAt)
      return { ...extraAt, problem: `this row has ${fields} values but ${reference} ${this.expected}` };
    return { ...at, problem: `this row has ${fields} value${fields === 1 ? "" : "s"} but ${reference} ${this.expected}` };
  }
}
