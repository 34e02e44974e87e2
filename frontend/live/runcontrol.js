// The run control: one state and a table of transitions. Each entry gives the
// next state and the commands to send; an event a state does not list changes
// nothing. The table knows no payloads: the app fills in `configure` (the page's
// settings), `set` (the training settings changed since), `step` (how many).
//
// The server answers a configure with a `points` message when it built the
// network ("built") and with an `error` naming a setting when it refused it, so
// those two events, not any status, end "configuring".

export const STATES = [
  "offline", // no connection; on connecting, build the network and wait
  "interrupted", // no connection, but it was training (or Train was pressed): train again once connected
  "configuring", // a configure is on its way; then wait
  "configuringToRun", // a configure is on its way; then train
  "refused", // the server refused a setting: nothing runs until a setting changes
  "paused",
  "running",
  "diverged", // the server stopped a diverging run; Train continues it
];

const to = (next, ...send) => ({ next, send });

// Events: connected (a new session), resumed (the session that was there before, taken back after a
// dropped socket), disconnected; built (points of a new network), settingRefused (an
// error naming a network or training setting), viewRefused (an error naming a view setting);
// serverPaused, serverRunning, serverDiverged (a status); userStart, userPause, userStep,
// userReset; networkChanged, trainingChanged, viewChanged (a setting of that kind was edited).
export const TABLE = {
  offline: {
    connected: to("configuring", "configure"),
    resumed: to("paused", "pause"), // the page did not mean to train: the session says where it is
    userStart: to("interrupted"),
  },
  interrupted: {
    connected: to("configuringToRun", "configure"),
    resumed: to("running", "start"),
    userPause: to("offline"),
    userStep: to("offline"),
    userReset: to("offline"),
  },
  configuring: {
    disconnected: to("offline"),
    built: to("paused"),
    settingRefused: to("refused"),
    viewRefused: to("refused"), // the new network cannot be drawn at this resolution
    userStart: to("configuringToRun"),
    userStep: to("configuring", "step"), // the server takes it after the configure
    networkChanged: to("configuring", "configure"),
    trainingChanged: to("configuring", "set"),
  },
  configuringToRun: {
    disconnected: to("interrupted"),
    built: to("running", "start"),
    // The network that was training keeps its place on the server: stop it.
    settingRefused: to("refused", "pause"),
    viewRefused: to("refused", "pause"),
    // Sent after the configure, these reach the new network, or the old one if it is refused.
    userPause: to("configuring", "pause"),
    userStep: to("configuring", "step"),
    userReset: to("configuring", "reset"),
    networkChanged: to("configuringToRun", "configure"),
    trainingChanged: to("configuringToRun", "set"),
  },
  refused: {
    disconnected: to("offline"),
    built: to("paused"), // a later configure was accepted
    // No network has these settings yet: any change sends them all again.
    networkChanged: to("configuring", "configure"),
    trainingChanged: to("configuring", "configure"),
    viewChanged: to("configuring", "configure"),
  },
  paused: {
    disconnected: to("offline"),
    settingRefused: to("refused"),
    serverRunning: to("running"),
    serverDiverged: to("diverged"),
    userStart: to("running", "start"),
    userStep: to("paused", "step"),
    userReset: to("paused", "reset"),
    networkChanged: to("configuring", "configure"),
    trainingChanged: to("paused", "set"),
  },
  running: {
    disconnected: to("interrupted"),
    settingRefused: to("refused", "pause"), // never train a network the page does not show
    serverPaused: to("paused"),
    serverDiverged: to("diverged"),
    userPause: to("paused", "pause"),
    userStep: to("paused", "step"),
    userReset: to("paused", "reset"),
    networkChanged: to("configuringToRun", "configure"),
    trainingChanged: to("running", "set"),
  },
  diverged: {
    disconnected: to("offline"),
    settingRefused: to("refused"),
    serverPaused: to("paused"),
    serverRunning: to("running"),
    userStart: to("running", "start"),
    userStep: to("paused", "step"),
    userReset: to("paused", "reset"),
    networkChanged: to("configuring", "configure"),
    trainingChanged: to("diverged", "set"),
  },
};

export const EVENTS = [...new Set(Object.values(TABLE).flatMap((row) => Object.keys(row)))];

/** {next, send} for `event` in `state`. */
export function transition(state, event) {
  if (!TABLE[state]) throw new Error(`unknown run state ${state}`);
  if (!EVENTS.includes(event)) throw new Error(`unknown run event ${event}`);
  return TABLE[state][event] || { next: state, send: [] };
}

/** States in which the page means to train: the Pause button shows, space pauses. */
export function wantsToRun(state) {
  return state === "running" || state === "configuringToRun" || state === "interrupted";
}

/** The word for the state pill: the connection and the configure come first. */
export function pillState(state) {
  if (state === "offline" || state === "interrupted") return "offline";
  if (state === "configuring" || state === "configuringToRun") return "starting";
  return state;
}

export class RunControl {
  /** onChange(state, previous) after every transition that changes the state. */
  constructor({ onChange = () => {} } = {}) {
    this.state = "offline";
    this.onChange = onChange;
  }

  /** Apply `event`; returns the commands to send, in order. */
  dispatch(event) {
    const { next, send } = transition(this.state, event);
    const previous = this.state;
    this.state = next;
    if (next !== previous) this.onChange(next, previous);
    return send;
  }
}
