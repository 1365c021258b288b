import dns from "node:dns";
import net from "node:net";
import type { OutboundNetwork } from "../../plugins/notifier";

/**
 * Address ranges a webhook may not reach unless allowed: the server's own host and the private
 * networks behind it (cloud metadata at 169.254.169.254, databases, internal services). A
 * webhook URL is typed by any project EDITOR, so without this the server would be their proxy
 * into the network it runs in.
 */
const REFUSED_RANGES: ReadonlyArray<{ cidr: string; name: string }> = [
  { cidr: "0.0.0.0/8", name: "a 'this network' address" },
  { cidr: "10.0.0.0/8", name: "a private (RFC 1918) address" },
  { cidr: "100.64.0.0/10", name: "a carrier-grade NAT address" },
  { cidr: "127.0.0.0/8", name: "a loopback address" },
  { cidr: "169.254.0.0/16", name: "a link-local address" },
  { cidr: "172.16.0.0/12", name: "a private (RFC 1918) address" },
  { cidr: "192.0.0.0/24", name: "an IETF protocol address" },
  { cidr: "192.168.0.0/16", name: "a private (RFC 1918) address" },
  { cidr: "198.18.0.0/15", name: "a benchmarking address" },
  { cidr: "224.0.0.0/4", name: "a multicast address" },
  { cidr: "240.0.0.0/4", name: "a reserved address" },
  { cidr: "::/128", name: "the unspecified address" },
  { cidr: "::1/128", name: "a loopback address" },
  { cidr: "::/96", name: "an IPv4-compatible address" },
  { cidr: "fc00::/7", name: "a unique-local (private) address" },
  { cidr: "fe80::/10", name: "a link-local address" },
  { cidr: "ff00::/8", name: "a multicast address" },
];

/** One BlockList per refused range, to name the range an address falls in. */
const RANGE_LISTS = REFUSED_RANGES.map(({ cidr, name }) => {
  const [base, bits] = cidr.split("/");
  const list = new net.BlockList();
  list.addSubnet(base!, Number(bits), net.isIPv4(base!) ? "ipv4" : "ipv6");
  return { list, name };
});

/** The environment variable that lists exceptions. */
export const WEBHOOK_ALLOW_SETTING = "SLUICE_WEBHOOK_ALLOW";

function family(address: string): "ipv4" | "ipv6" {
  return net.isIPv4(address) ? "ipv4" : "ipv6";
}

/** `::ffff:10.0.0.1` (and `::ffff:a00:1`) is 10.0.0.1: an IPv4-mapped address is judged as its IPv4 address. */
function unmapped(address: string): string {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, "");
  const dotted = /^(?:0{0,4}:){0,5}ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return lower;
}

/** Whether `entry` is an allow-list entry: an IP, a CIDR, or a host name. */
export function allowEntryProblem(entry: string): string | undefined {
  const [ip, bits, extra] = entry.split("/");
  if (extra !== undefined) return "an IP, a CIDR (10.0.0.0/8) or a host name";
  if (bits !== undefined) {
    const max = net.isIPv4(ip!) ? 32 : net.isIPv6(ip!) ? 128 : undefined;
    if (max === undefined || !/^\d+$/.test(bits) || Number(bits) > max) return "a CIDR such as 10.0.0.0/8 or fd00::/8";
    return undefined;
  }
  if (net.isIP(ip!)) return undefined;
  return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(ip!) ? undefined : "an IP, a CIDR or a host name";
}

/** Why a webhook target is refused: the message names the address, its range and the setting. */
export class RefusedTargetError extends Error {
  readonly code = "ESLUICE_REFUSED_TARGET";
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(
      `${host === address ? address : `${host} resolves to ${address}, which`} is ${range}; webhooks may reach it only when ${WEBHOOK_ALLOW_SETTING} lists it`,
    );
    this.name = "RefusedTargetError";
  }
}

/**
 * Which addresses webhooks may reach: every public address, and the refused ranges only when
 * `SLUICE_WEBHOOK_ALLOW` lists the host, the address or a CIDR holding it. It is applied twice:
 * to literal IPs when a channel is saved, and to the address actually connected to (`lookup`),
 * so a name that resolves, or later re-resolves (DNS rebinding), to a refused address is caught.
 */
export class WebhookTargetPolicy implements OutboundNetwork {
  private readonly refused = new net.BlockList();
  private readonly allowed = new net.BlockList();
  private readonly allowedHosts = new Set<string>();

  /** @param allow entries of `SLUICE_WEBHOOK_ALLOW` (already checked by `allowEntryProblem`). */
  constructor(
    allow: readonly string[],
    private readonly resolve: typeof dns.lookup = dns.lookup,
  ) {
    for (const { cidr } of REFUSED_RANGES) {
      const [ip, bits] = cidr.split("/");
      this.refused.addSubnet(ip!, Number(bits), family(ip!));
    }
    for (const entry of allow) {
      const [ip, bits] = entry.split("/");
      if (bits !== undefined) this.allowed.addSubnet(unmapped(ip!), Number(bits), family(unmapped(ip!)));
      else if (net.isIP(ip!)) this.allowed.addAddress(unmapped(ip!), family(unmapped(ip!)));
      else this.allowedHosts.add(ip!.toLowerCase().replace(/\.$/, ""));
    }
  }

  /** The range `address` is refused as, or undefined when a webhook may connect to it. */
  rangeOf(address: string): string | undefined {
    const ip = unmapped(address);
    if (!net.isIP(ip)) return "not an IP address";
    if (this.allowed.check(ip, family(ip))) return undefined;
    if (!this.refused.check(ip, family(ip))) return undefined;
    return RANGE_LISTS.find(({ list }) => list.check(ip, family(ip)))?.name ?? "a refused address";
  }

  private hostAllowed(host: string): boolean {
    return this.allowedHosts.has(host.toLowerCase().replace(/\.$/, ""));
  }

  /** Why a URL's host may not be saved (a literal IP in a refused range), or undefined. Names resolve later. */
  hostProblem(hostname: string): string | undefined {
    const host = hostname.replace(/^\[|\]$/g, "");
    if (!net.isIP(host) || this.hostAllowed(host)) return undefined;
    const range = this.rangeOf(host);
    return range ? new RefusedTargetError(host, host, range).message : undefined;
  }

  /** Throws RefusedTargetError when connecting to `hostname` (a literal IP) is refused. */
  assertLiteralHost(hostname: string): void {
    const host = hostname.replace(/^\[|\]$/g, "");
    if (!net.isIP(host) || this.hostAllowed(host)) return;
    const range = this.rangeOf(host);
    if (range) throw new RefusedTargetError(host, host, range);
  }

  /**
   * A `lookup` for http(s) requests: resolves as usual, keeps only the addresses a webhook may
   * reach, and fails (before any connection) when none is left. The socket connects to what this
   * returns, so the check holds for the address really used.
   */
  readonly lookup: net.LookupFunction = (hostname, options, callback) => {
    const done = callback as (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
    this.resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return done(err, options.all ? [] : "");
      const list = addresses as dns.LookupAddress[];
      const usable = this.hostAllowed(hostname) ? list : list.filter((a) => this.rangeOf(a.address) === undefined);
      if (usable.length === 0) {
        const first = list[0];
        const refusal = first
          ? new RefusedTargetError(hostname, first.address, this.rangeOf(first.address) ?? "refused")
          : Object.assign(new Error(`${hostname} did not resolve`), { code: "ENOTFOUND" });
        return done(refusal, options.all ? [] : "");
      }
      if (options.all) return done(null, usable);
      return done(null, usable[0]!.address, usable[0]!.family);
    });
  };
}
