/** What a command prints: words for people, or JSON with `--json`. */
export interface Printer {
  json: boolean;
  line(text: string, data?: object): void;
  value(data: unknown): void;
}

export function makePrinter(json: () => boolean): Printer {
  return {
    get json() {
      return json();
    },
    line(text, data) {
      if (json()) process.stdout.write(`${JSON.stringify(data ?? { message: text })}\n`);
      else process.stdout.write(`${text}\n`);
    },
    value(data) {
      process.stdout.write(`${JSON.stringify(data, null, json() ? 0 : 2)}\n`);
    },
  };
}

/** commander helper for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
