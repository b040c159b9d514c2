/**
 * The kernel side of the TAP link tests that need frames to arrive at a pace: python3 that sends
 * one UDP datagram to an unresolved neighbour 198.18.0.<first + i>:9 every `intervalS` seconds,
 * `count` times. Each makes the kernel broadcast an ARP request on the TAP device; no stack has to
 * answer, so the frames come whatever the test's side does. It keeps going when the device
 * vanishes (a send that fails is skipped).
 */
export const pyArpTrickle = (count: number, options: { readonly first?: number; readonly intervalS?: number } = {}): string => `import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${count}):
    try:
        s.sendto(b'x', ('198.18.0.%d' % (${options.first ?? 10} + i), 9))
    except OSError:
        pass
    time.sleep(${options.intervalS ?? 0.02})`;
