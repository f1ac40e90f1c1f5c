/*
 * graph_worker.js - a Web Worker that lays out graphs with dagre for the
 * graph tab (graph_layout.js layoutSpec): message {id, specs} -> {id,
 * results} or {id, error}. ui/build.sh bundles it on its own (dagre
 * inside) under a content-hashed name, which the page learns at build
 * time (GRAPH_WORKER).
 */
import dagre from 'dagre';
import { layoutSpec } from './graph_layout.js';

self.onmessage = (e) => {
  const { id, specs } = e.data || {};
  try {
    self.postMessage({ id, results: (specs || []).map((s) => layoutSpec(dagre, s)) });
  } catch (err) {
    self.postMessage({ id, error: String((err && err.message) || err) });
  }
};
