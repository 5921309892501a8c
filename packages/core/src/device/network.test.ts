import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CofferError } from '../errors.js';
import { type HostAddress, isIpv4, macFor, validateNetworkSettings } from './network.js';

const HOST: HostAddress[] = [
  { interfaceName: 'lo', address: '127.0.0.1', mac: '00:00:00:00:00:00', netmask: '255.0.0.0' },
  { interfaceName: 'eth0', address: '192.168.25.224', mac: '52:54:00:12:34:56', netmask: '255.255.255.0' },
];
const M = { ip: '192.168.25.224', port: 1812, mask: '255.255.255.0', gateway: '192.168.25.254' };
const A = { ip: '192.168.25.224', port: 1813, mask: '255.255.255.0', gateway: null };

function field(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CofferError);
    assert.equal(error.code, 'ERR_NETWORK_SETTINGS');
    return String(error.details['field']);
  }
  assert.fail('expected ERR_NETWORK_SETTINGS');
}

describe('Start Service network settings', () => {
  it('accepts the manual’s example settings on an address of this host', () => {
    const out = validateNetworkSettings({ mNet0: M, aNet1: A }, HOST);
    assert.deepEqual(out.mNet0, M);
    assert.equal(out.aNet1.gateway, null);
  });

  it('refuses each bad field by name', () => {
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: { ...M, ip: '192.168.25.300' }, aNet1: A }, HOST)),
      'mNet0.ip',
    );
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: { ...M, ip: '192.168.25.225' }, aNet1: A }, HOST)),
      'mNet0.ip',
    );
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: { ...M, port: 70000 }, aNet1: A }, HOST)),
      'mNet0.port',
    );
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: { ...M, port: 1.5 }, aNet1: A }, HOST)),
      'mNet0.port',
    );
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: M, aNet1: { ...A, mask: '255.255.0.255' } }, HOST)),
      'aNet1.mask',
    );
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: M, aNet1: { ...A, gateway: '192.168.26.1' } }, HOST)),
      'aNet1.gateway',
    );
    assert.equal(
      field(() => validateNetworkSettings({ mNet0: M, aNet1: { ...A, port: 1812 } }, HOST)),
      'aNet1.port',
    );
  });

  it('lets both networks pick free ports with port 0 on one address', () => {
    const out = validateNetworkSettings({ mNet0: { ...M, port: 0 }, aNet1: { ...A, port: 0 } }, HOST);
    assert.equal(out.aNet1.port, 0);
  });

  it('reads dotted quads strictly and finds the MAC of an address', () => {
    assert.equal(isIpv4('10.0.0.1'), true);
    for (const bad of ['10.0.0', '10.0.0.01', '10.0.0.256', ' 10.0.0.1', '::1', '1.2.3.4.5'])
      assert.equal(isIpv4(bad), false, bad);
    assert.equal(macFor('192.168.25.224', HOST), '52:54:00:12:34:56');
    assert.equal(macFor('10.9.9.9', HOST), '00:00:00:00:00:00');
  });
});
