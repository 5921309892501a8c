import { networkInterfaces } from 'node:os';
import type { HostAddress } from '@coffer/core';

/** The IPv4 addresses this host has, with the MAC and mask of each interface. */
export function hostAddresses(): HostAddress[] {
  const out: HostAddress[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4')
        out.push({ interfaceName: name, address: a.address, mac: a.mac, netmask: a.netmask });
    }
  }
  return out;
}
