/** Maps the `congestionControl` option to the factory the core calls per connection. */

import type { CongestionControlChoice, CongestionControlFactory } from './congestion-control.js';
import { cubic } from './cubic.js';
import { newReno } from './newreno.js';

export function congestionControlFactory(choice: CongestionControlChoice): CongestionControlFactory {
  if (choice === 'cubic') return cubic;
  if (choice === 'newreno') return newReno;
  return choice;
}
