import { randomInt } from "node:crypto";

// A run without a name gets one a person can say, like MLflow's `adorable-ray-123`.
const ADJECTIVES = [
  "amber",
  "brave",
  "calm",
  "clever",
  "crisp",
  "eager",
  "gentle",
  "golden",
  "keen",
  "lucky",
  "merry",
  "nimble",
  "quiet",
  "rapid",
  "silver",
  "steady",
  "sunny",
  "tidy",
  "vivid",
  "wise",
];
const NOUNS = [
  "badger",
  "crane",
  "dolphin",
  "falcon",
  "finch",
  "fox",
  "heron",
  "ibis",
  "lynx",
  "moth",
  "otter",
  "owl",
  "panda",
  "robin",
  "seal",
  "sparrow",
  "stork",
  "swan",
  "trout",
  "wren",
];

export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
