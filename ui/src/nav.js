/*
 * nav.js - moving between views without a reload: go() changes the path
 * and draws its view, refresh() redraws the current one. main.js installs
 * the function that draws.
 */
let draw = () => {};

export function setDraw(fn) {
  draw = fn;
}

/* Goes to a path of the UI (replace: without a new history entry). */
export function go(href, replace) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  draw();
}

/* Redraws the current view (after an action changed what it shows). */
export function refresh() {
  draw();
}
