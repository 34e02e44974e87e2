// Picking a sample made for the other task switches the Task with it, in the same edit (one new
// network, not a wasted one first): a classes-* picture under Regress would only give a gray
// brightness picture, and a black-and-white one under Classify is refused. The switch says so in
// a toast beside the Task, with Undo, which puts the earlier task back. What each sample is made
// for is the server's word (`task` in GET /api/samples).

const SHOWN_MS = 12000;

export class SampleTask {
  /** select: the Task <select> (its option texts name the tasks); onUndo(task) puts a task back. */
  constructor({ select, onUndo }) {
    this.select = select;
    this.onUndo = onUndo;
    this.tasks = new Map(); // sample id -> the task it was made for
    this.undoTask = null;
    this.timer = null;
    const toast = document.createElement("div");
    toast.className = "task-toast";
    toast.dataset.testid = "task-toast";
    toast.setAttribute("role", "status");
    toast.hidden = true;
    this.words = document.createElement("span");
    const undo = document.createElement("button");
    undo.type = "button";
    undo.className = "btn small";
    undo.dataset.testid = "task-toast-undo";
    undo.textContent = "Undo";
    undo.addEventListener("click", () => this.undo());
    toast.append(this.words, undo);
    select.closest(".field").after(toast);
    this.toast = toast;
  }

  /** The server's samples ([{id, task}, ...]). */
  setSamples(samples) {
    for (const s of samples) if (s && typeof s.id === "string" && (s.task === "classify" || s.task === "regress")) this.tasks.set(s.id, s.task);
  }

  /** The settings patch for a person's pick of picture `id` while the task is `task`: the picture,
   *  and the sample's own task when it differs (then the toast offers Undo). */
  pick(id, task) {
    const made = this.tasks.get(id);
    if (!made || made === task) {
      this.hide();
      return { image: id };
    }
    this.undoTask = task;
    const name = this._name(made);
    this.words.textContent = `Task set to “${name}”: this picture is made for ${made === "classify" ? "classification" : "regression"}. `;
    this.toast.hidden = false;
    this.toast.dataset.task = made;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), SHOWN_MS);
    return { image: id, task: made };
  }

  undo() {
    const task = this.undoTask;
    this.hide();
    if (task) this.onUndo(task);
  }

  hide() {
    clearTimeout(this.timer);
    this.undoTask = null;
    this.toast.hidden = true;
  }

  _name(task) {
    const option = [...this.select.options].find((o) => o.value === task);
    return option ? option.textContent.trim() : task;
  }
}
