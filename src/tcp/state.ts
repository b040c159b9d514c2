/**
 * Connection states as RFC 9293 3.3.2 spells them, so logs read like the RFC's diagram.
 */

export const TcpStates = {
  CLOSED: 'CLOSED',
  LISTEN: 'LISTEN',
  SYN_SENT: 'SYN-SENT',
  SYN_RECEIVED: 'SYN-RECEIVED',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT_1: 'FIN-WAIT-1',
  FIN_WAIT_2: 'FIN-WAIT-2',
  CLOSE_WAIT: 'CLOSE-WAIT',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST-ACK',
  TIME_WAIT: 'TIME-WAIT',
} as const;

export type TcpState = (typeof TcpStates)[keyof typeof TcpStates];

/**
 * States in which both sides have exchanged SYNs ("synchronized states", RFC 9293 3.5.2):
 * RST and SYN validation follow RFC 5961 there.
 */
export function isSynchronized(state: TcpState): boolean {
  return state !== 'CLOSED' && state !== 'LISTEN' && state !== 'SYN-SENT' && state !== 'SYN-RECEIVED';
}

/** States in which the user may still queue data to send (before `shutdown`). */
export function canUserSend(state: TcpState): boolean {
  return state === 'SYN-SENT' || state === 'SYN-RECEIVED' || state === 'ESTABLISHED' || state === 'CLOSE-WAIT';
}

/** States in which received data is accepted into the receive buffer (RFC 9293 3.10.7.4 step 7). */
export function acceptsText(state: TcpState): boolean {
  return state === 'ESTABLISHED' || state === 'FIN-WAIT-1' || state === 'FIN-WAIT-2';
}
