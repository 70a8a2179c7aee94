/**
 * The network a citizen is told a sign-in came from (the phone's approval screen, the
 * new-browser mail): standard notation, and "a local network" where an address names no place.
 */
import { networkOf } from '../../src/security/networks.ts';

describe('the network of an address', () => {
  test.each([
    ['203.0.113.57', '203.0.113.0/24'],
    ['::ffff:198.51.100.7', '198.51.100.0/24'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::/48'],
    ['2001:0DB8:0000:0001::1', '2001:db8::/48'],
    ['2001:db8:0:1::1', '2001:db8::/48'],
    ['2001:0:5:1::1', '2001:0:5::/48'],
    ['2a00:1450:400d:80c::200e', '2a00:1450:400d::/48'],
    ['2001:db8::', '2001:db8::/48'],
    ['64:ff9b::203.0.113.9', '64:ff9b::/48'],
  ])('%s is on the network %s', (ip, network) => {
    expect(networkOf(ip)).toEqual({ local: false, network });
  });

  test.each(['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.1.2.3', '172.20.0.5', '192.168.1.10', '169.254.3.4', 'fe80::1%eth0', 'fd12:3456:789a::1'])(
    '%s is a local network: it names no place',
    (ip) => {
      expect(networkOf(ip)).toEqual({ local: true });
    },
  );

  test.each(['', 'localhost', '1.2.3', '999.1.1.1', '1::2::3', '2001:db8:::1', null, undefined])('%s is no address', (ip) => {
    expect(networkOf(ip)).toBeNull();
  });
});
