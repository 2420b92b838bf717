/** Sensor: reflects its spec into status (Ready); the sensor runtime itself comes later. */
import { withFreshRetry, writeStatus, type OperatorContext } from '../context.ts';
import { RESOURCES, setCondition, type SensorResource, type SensorStatus } from '../resources.ts';

export async function reconcileSensor(ctx: OperatorContext, key: string) {
  return withFreshRetry(ctx, RESOURCES.sensor, ctx.informers.sensors.get(key), async (s: SensorResource) => {
    if (s.metadata.deletionTimestamp) return;
    const gen = s.metadata.generation;
    const enabled = s.spec.enabled ?? true;
    const status: SensorStatus = { ...structuredClone(s.status ?? {}), observedGeneration: gen };
    status.conditions = setCondition(status.conditions, { type: 'Ready', status: 'True', reason: enabled ? 'Enabled' : 'Disabled', message: `sensor ${s.spec.name} every ${s.spec.intervalSeconds ?? 30}s${enabled ? '' : ' (disabled)'}`, observedGeneration: gen });
    await writeStatus(ctx, RESOURCES.sensor, s, status);
  });
}
