/** A code location with only the data half of the library (bars, features, labels): the pipeline bench's baseline. */
import type { CodeLocation } from '../assets/index.ts';

export default (location: CodeLocation) => location.assets.filter((a) => ['canonical_bars', 'features', 'labels'].includes(a.key));
