/** The label defaults are the shipped core_policy values. */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPolicies } from '../../assets/policies/index.ts';
import { DEFAULT_LABEL_CONFIG, labelConfigFromPolicy, resolveConfig } from '../../assets/labels/engine/index.ts';

describe('label config', () => {
  it('the shipped core_policy maps onto exactly the seed defaults', () => {
    const core = loadPolicies(fileURLToPath(new URL('../../configs', import.meta.url))).core;
    expect(labelConfigFromPolicy(core)).toEqual(DEFAULT_LABEL_CONFIG);
  });

  it('overrides only the keys given', () => {
    expect(resolveConfig({ horizonBars: 10 })).toEqual({ ...DEFAULT_LABEL_CONFIG, horizonBars: 10 });
  });
});
