import type { Metrics } from '../metrics.ts';
import type { Clock, KeyValue, ObjectStore } from '../ports.ts';

/** What a step can reach besides its inputs. Adapters fill it in; later issues add the DWH. */
export interface Resources {
  objectStore: ObjectStore;
  keyValue: KeyValue;
  clock: Clock;
  /** Where steps and the kernel record metrics; none recorded when absent. */
  metrics?: Metrics;
  /** Extra named resources (e.g. `dwh`, `provider`), typed by the asset that uses them. */
  [name: string]: unknown;
}
