// Early stopping on a monitored validation value (lecture section 5; Keras EarlyStopping semantics).
//
// Feed one value per evaluation with `update(value, at)` (`at` = the epoch or step of that
// evaluation, only recorded). A value improves when it beats the best so far by more than
// minDelta (mode "min": value < best - minDelta; "max": value > best + minDelta); the first non-NaN
// value always improves; NaN never does. After `patience` evaluations in a row without
// improvement, `stop` becomes true (patience 0: stop at the first non-improvement).
//
// Restoring the best weights is the CALLER's job and must happen at the end of training WHETHER
// OR NOT training stopped early (Keras only restores when it stopped, a known surprise): the
// trainer copies the parameter arena aside whenever `improved` is true and copies it back at the
// end. `bestAt` tells which evaluation that was.

export interface EarlyStoppingOptions {
  /** Name of the monitored quantity ("val_loss", "val_accuracy"); informational. */
  monitor: string;
  mode?: "min" | "max"; // default "min"
  patience?: number; // default 0
  minDelta?: number; // default 0 (must be >= 0)
}

/** JSON-serializable: save it in checkpoints, restore with `EarlyStopping.fromJSON`. */
export interface EarlyStoppingState {
  best: number | null;
  bestAt: number | null;
  wait: number;
  stopped: boolean;
}

export class EarlyStopping {
  readonly monitor: string;
  readonly mode: "min" | "max";
  readonly patience: number;
  readonly minDelta: number;
  state: EarlyStoppingState = { best: null, bestAt: null, wait: 0, stopped: false };

  constructor(opts: EarlyStoppingOptions) {
    this.monitor = opts.monitor;
    this.mode = opts.mode ?? "min";
    this.patience = opts.patience ?? 0;
    this.minDelta = Math.abs(opts.minDelta ?? 0);
  }

  get best(): number | null {
    return this.state.best;
  }
  get bestAt(): number | null {
    return this.state.bestAt;
  }
  get stopped(): boolean {
    return this.state.stopped;
  }

  update(value: number, at: number): { improved: boolean; stop: boolean } {
    const st = this.state;
    let improved: boolean;
    if (Number.isNaN(value)) improved = false;
    else if (st.best === null) improved = true;
    else improved = this.mode === "min" ? value < st.best - this.minDelta : value > st.best + this.minDelta;
    if (improved) {
      st.best = value;
      st.bestAt = at;
      st.wait = 0;
    } else {
      st.wait++;
      if (st.wait >= this.patience) st.stopped = true; // wait >= 1 here
    }
    return { improved, stop: st.stopped };
  }

  toJSON(): EarlyStoppingState {
    return { ...this.state };
  }

  static fromJSON(opts: EarlyStoppingOptions, state: EarlyStoppingState): EarlyStopping {
    const es = new EarlyStopping(opts);
    es.state = { ...state };
    return es;
  }
}
