import type { Clock, KeyValue, ObjectStore } from '../ports.ts';

/** What a step can reach besides its inputs. Adapters fill it in; later issues add the DWH. */
export interface Resources {
  objectStore: ObjectStore;
  keyValue: KeyValue;
  clock: Clock;
  /** Extra named resources (e.g. `dwh`, `provider`), typed by the asset that uses them. */
  [name: string]: unknown;
}
