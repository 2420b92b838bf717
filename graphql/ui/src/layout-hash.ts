/** The layout's shapes and cache keys, without ELK (which loads on demand). Pure. */

export const NODE_W = 220;
export const NODE_H = 76;

export interface LaidNode { key: string; x: number; y: number }
export interface LaidEdge { from: string; to: string; points: Array<{ x: number; y: number }> }
export interface Layout { nodes: Map<string, LaidNode>; edges: LaidEdge[]; width: number; height: number }
export interface LayoutCache { get(key: string): string | null; set(key: string, value: string): void }

/** FNV-1a, 32-bit: a short cache key for a graph's structure. */
export function structureHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0).toString(16).padStart(8, '0');
}
