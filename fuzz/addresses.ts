/**
 * Who is who on the fuzzed link. The fuzzed stack A serves; B is the well-behaved peer whose
 * transfer must stay byte-exact; C is the stranger whose recorded session seeds the mutations.
 * Fuzzed frames never speak as B (an ARP or a segment spoofed from B is an attack on the live
 * transfer that no stack can survive, not a bug to find).
 */
export const A_IP = '198.18.0.1';
export const A_MAC = '02:00:00:00:00:01';
export const B_IP = '198.18.0.2';
export const B_MAC = '02:00:00:00:00:02';
export const C_IP = '198.18.0.3';
export const C_MAC = '02:00:00:00:00:03';

/** A's address and B's as 32-bit numbers (byte order of the wire). */
export const A_IP_NUM = 0xc6120001;
export const B_IP_NUM = 0xc6120002;
export const C_IP_NUM = 0xc6120003;

/** The services A runs for the fuzzer to find: TCP echo and discard, UDP echo. */
export const TCP_ECHO_PORT = 7;
export const TCP_DISCARD_PORT = 9;
export const UDP_ECHO_PORT = 7;
/** The port B's live transfer uses on A (echo, on its own listener). */
export const LIVE_TCP_PORT = 5001;
export const LIVE_UDP_PORT = 5002;
