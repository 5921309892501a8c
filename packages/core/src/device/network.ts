import { CofferError } from '../errors.js';

/** One network of the Start Service screen (§3.5). */
export interface NetworkPort {
  ip: string;
  port: number; // 0: any free port (dev mode); the listener reports the real one
  mask: string;
  gateway: string | null;
}

/** M-Net0 carries the management service, A-Net1 the crypto service. */
export interface NetworkSettings {
  mNet0: NetworkPort;
  aNet1: NetworkPort;
}

/** What the host says about one of its addresses (from `os.networkInterfaces()`). */
export interface HostAddress {
  interfaceName: string;
  address: string;
  mac: string;
  netmask: string;
}

const NETWORKS = ['mNet0', 'aNet1'] as const;
export type NetworkName = (typeof NETWORKS)[number];

function ipv4ToInt(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** True for a dotted-quad IPv4 address (no leading zeros). */
export function isIpv4(ip: string): boolean {
  return ipv4ToInt(ip) !== null;
}

function isNetmask(mask: string): boolean {
  const value = ipv4ToInt(mask);
  if (value === null || value === 0) return false;
  const inverted = ~value >>> 0;
  return (inverted & (inverted + 1)) === 0;
}

function refuse(field: string, message: string): never {
  throw new CofferError('ERR_NETWORK_SETTINGS', message, { field });
}

/**
 * Checks the Start Service settings and returns them normalised. The IP of each network must be an
 * address of this host (the device cannot serve on an address it does not have).
 * @throws ERR_NETWORK_SETTINGS naming the field (`mNet0.ip`, `aNet1.port`, …) and why.
 */
export function validateNetworkSettings(
  input: NetworkSettings,
  host: readonly HostAddress[],
): NetworkSettings {
  const out = {} as NetworkSettings;
  for (const name of NETWORKS) {
    const net = input[name];
    const label = name === 'mNet0' ? 'M-Net0' : 'A-Net1';
    if (!net || typeof net !== 'object') refuse(name, `The ${label} settings are missing.`);
    const ip = String(net.ip ?? '').trim();
    if (!isIpv4(ip))
      refuse(`${name}.ip`, `${label} IP address '${ip}' is not an IPv4 address like 192.168.25.224.`);
    if (!host.some((h) => h.address === ip)) {
      refuse(`${name}.ip`, `${label} IP address ${ip} is not an address of this device.`);
    }
    const port = Number(net.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      refuse(`${name}.port`, `${label} port must be a whole number from 1 to 65535 (0 picks a free port).`);
    }
    const mask = String(net.mask ?? '').trim();
    if (!isNetmask(mask))
      refuse(`${name}.mask`, `${label} subnet mask '${mask}' is not a valid mask like 255.255.255.0.`);
    const gatewayText = net.gateway === null || net.gateway === undefined ? '' : String(net.gateway).trim();
    let gateway: string | null = null;
    if (gatewayText !== '') {
      const gw = ipv4ToInt(gatewayText);
      if (gw === null)
        refuse(`${name}.gateway`, `${label} default gateway '${gatewayText}' is not an IPv4 address.`);
      const maskInt = ipv4ToInt(mask)!;
      if ((gw & maskInt) >>> 0 !== (ipv4ToInt(ip)! & maskInt) >>> 0) {
        refuse(
          `${name}.gateway`,
          `${label} default gateway ${gatewayText} is not in the subnet of ${ip}/${mask}.`,
        );
      }
      gateway = gatewayText;
    }
    out[name] = { ip, port, mask, gateway };
  }
  if (out.mNet0.ip === out.aNet1.ip && out.mNet0.port === out.aNet1.port && out.mNet0.port !== 0) {
    refuse('aNet1.port', 'M-Net0 and A-Net1 cannot use the same IP address and port.');
  }
  return out;
}

/** The MAC of the interface that holds `ip`, or all zeros when unknown (as the manual's screen shows). */
export function macFor(ip: string, host: readonly HostAddress[]): string {
  return host.find((h) => h.address === ip)?.mac ?? '00:00:00:00:00:00';
}
