//! The one writer: a dedicated thread that owns the deletion engine and applies requests in
//! the order they reach its channel (the order handlers received them), and publishes on the
//! timer between them. Requests that are already queued when the writer takes the next one
//! arrived together: they are served as one group (one removal step, one transaction, one
//! sync: [`Deletions::delete_group`]), each answered with its own outcome. Handlers wait for
//! their reply on a oneshot; a handler whose client went away still has its deletion applied
//! and durable.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use unlearn::deletions::{
    DeletionError, DeletionRequest, Deletions, ErrorKind, MAX_GROUP, Receipt,
};

/// What the writer is asked to do.
pub enum Command {
    /// Serve one deletion and reply with its receipt once it is durable.
    Delete(
        DeletionRequest,
        oneshot::Sender<Result<Receipt, DeletionError>>,
    ),
    /// Stop after everything queued before this command.
    Stop,
}

/// The writer thread's handle.
pub struct Writer {
    sender: mpsc::Sender<Command>,
    thread: JoinHandle<()>,
}

impl Writer {
    /// Starts the thread, which owns `engine` from now on.
    pub fn start(engine: Deletions) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("unlearn-writer".into())
            .spawn(move || run(engine, &receiver))?;
        Ok(Self { sender, thread })
    }

    /// A sender for handlers.
    pub fn sender(&self) -> mpsc::Sender<Command> {
        self.sender.clone()
    }

    /// Drains: every command queued so far is served, then the thread ends.
    pub fn stop(self) {
        // The thread owns the receiver until it ends, so this send only fails if it
        // already ended (it never does before a Stop): nothing is left to drain then.
        let _ = self.sender.send(Command::Stop);
        if self.thread.join().is_err() {
            eprintln!("unlearn serve: the writer thread panicked; restart the service");
        }
    }
}

/// How long a failed timed release waits before it is tried again (a store that cannot be
/// written now, a full disk: not worth retrying in a tight loop).
const RETRY: Duration = Duration::from_secs(1);

fn run(mut engine: Deletions, receiver: &mpsc::Receiver<Command>) {
    let mut retry_at: Option<Instant> = None;
    loop {
        let command = match engine.next_release_due() {
            Some(due) => {
                let deadline = retry_at.map_or(due, |r| r.max(due));
                match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(command) => command,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        retry_at = publish_if_due(&mut engine).then(|| Instant::now() + RETRY);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            None => match receiver.recv() {
                Ok(command) => command,
                Err(mpsc::RecvError) => return,
            },
        };
        let Command::Delete(request, reply) = command else {
            return;
        };
        // Whatever else is queued now arrived with it: one group (up to MAX_GROUP), in order.
        let (mut requests, mut replies) = (vec![request], vec![reply]);
        let mut stop = false;
        while requests.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(Command::Delete(request, reply)) => {
                    requests.push(request);
                    replies.push(reply);
                }
                Ok(Command::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let outcomes = engine.delete_group(&requests);
        for follow_up in engine.take_follow_ups() {
            eprintln!("unlearn serve: warning: {follow_up}");
        }
        for (outcome, reply) in outcomes.into_iter().zip(replies) {
            let outcome = outcome.map(|d| d.receipt);
            if let Err(e) = &outcome
                && e.kind() == ErrorKind::Unavailable
            {
                // A store failure: its message names the store and the cause, no id.
                eprintln!("unlearn serve: {e}");
            }
            // The requester may have gone away; the deletion stands either way.
            let _ = reply.send(outcome);
        }
        if stop {
            return;
        }
        retry_at = publish_if_due(&mut engine).then(|| Instant::now() + RETRY);
    }
}

/// A timed release, if due; returns whether it failed. A failure is reported on standard
/// error (the message names the store and the cause, nothing secret) and retried later.
fn publish_if_due(engine: &mut Deletions) -> bool {
    match engine.publish_if_due(Instant::now()) {
        Ok(_) => {
            for follow_up in engine.take_follow_ups() {
                eprintln!("unlearn serve: warning: {follow_up}");
            }
            false
        }
        Err(e) => {
            eprintln!("unlearn serve: the timed release failed: {e}");
            true
        }
    }
}
