package lifecycle

import (
	"bufio"
	"context"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Observer records what the kubelet did to the worker's pods while a
// scenario ran: restarts, SIGKILLs, how long each pod took to stop, and how
// the sidecar quieted Sidekiq (from its log).
type Observer struct {
	client kubernetes.Interface
	ns     string
	ctx    context.Context
	stop   context.CancelFunc

	mu   sync.Mutex
	pods map[types.UID]*podRecord
	wg   sync.WaitGroup
}

type podRecord struct {
	name      string
	injected  bool
	restarts  int32           // the Sidekiq container's restartCount, highest seen
	sigkills  map[string]bool // containers (by runtime ID) that ended with SIGKILL
	deletedAt time.Time       // when the pod was deleted
	stoppedAt time.Time       // when Sidekiq exited after that
	following bool            // the sidecar's log is being read
	bySignal  int             // "preStop: signalled" lines in the sidecar's log
	byRedis   int             // "signal pushed through redis" lines
}

// Observe starts watching the worker's pods in ns, until Result.
func Observe(ctx context.Context, client kubernetes.Interface, ns string) *Observer {
	ctx, stop := context.WithCancel(ctx)
	o := &Observer{client: client, ns: ns, ctx: ctx, stop: stop, pods: map[types.UID]*podRecord{}}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(opts *metav1.ListOptions) { opts.LabelSelector = "app=" + WorkerName }))
	informer := factory.Core().V1().Pods().Informer()
	record := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			o.record(pod)
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
		DeleteFunc: record,
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return o
}

func (o *Observer) record(pod *corev1.Pod) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.pods[pod.UID]
	if r == nil {
		r = &podRecord{name: pod.Name, injected: testkit.HasSidecar(pod), sigkills: map[string]bool{}}
		o.pods[pod.UID] = r
	}
	if pod.DeletionTimestamp != nil && r.deletedAt.IsZero() {
		grace := time.Duration(0)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		}
		// The API server sets deletionTimestamp to the deadline, not the
		// moment of the delete.
		r.deletedAt = pod.DeletionTimestamp.Add(-grace)
	}
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		for _, t := range []*corev1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
			if t != nil && (t.ExitCode == 137 || t.Signal == 9) {
				r.sigkills[cs.Name+"/"+t.ContainerID] = true
			}
		}
		switch cs.Name {
		case "sidekiq":
			r.restarts = max(r.restarts, cs.RestartCount)
			if t := cs.State.Terminated; t != nil && pod.DeletionTimestamp != nil {
				r.stoppedAt = t.FinishedAt.Time
			}
		case contract.ContainerName:
			if cs.State.Running != nil && !r.following {
				r.following = true
				o.wg.Add(1)
				go o.followSidecar(pod.Name, pod.UID)
			}
		}
	}
}

// followSidecar reads the sidecar's log until it ends and counts how the
// drain quieted Sidekiq.
func (o *Observer) followSidecar(name string, uid types.UID) {
	defer o.wg.Done()
	req := o.client.CoreV1().Pods(o.ns).GetLogs(name, &corev1.PodLogOptions{Container: contract.ContainerName, Follow: true})
	stream, err := req.Stream(o.ctx)
	if err != nil {
		return // the pod went away first; its counts stay 0
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	for sc.Scan() {
		line := sc.Text()
		o.mu.Lock()
		switch {
		case strings.Contains(line, "preStop: signalled"):
			o.pods[uid].bySignal++
		case strings.Contains(line, "signal pushed through redis"):
			o.pods[uid].byRedis++
		}
		o.mu.Unlock()
	}
}

// Pods is what was observed, per pod, once the scenario is over.
type Pods struct {
	Seen          int
	Uninjected    int
	Restarts      int
	SIGKILLs      int
	Stops         []time.Duration // from delete to Sidekiq's exit, per stopped pod
	QuietBySignal int
	QuietByRedis  int
}

// Result stops watching and sums up.
func (o *Observer) Result() Pods {
	o.stop()
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	var p Pods
	for _, r := range o.pods {
		p.Seen++
		if !r.injected {
			p.Uninjected++
		}
		p.Restarts += int(r.restarts)
		p.SIGKILLs += len(r.sigkills)
		if !r.deletedAt.IsZero() && !r.stoppedAt.IsZero() {
			p.Stops = append(p.Stops, r.stoppedAt.Sub(r.deletedAt))
		}
		p.QuietBySignal += r.bySignal
		p.QuietByRedis += r.byRedis
	}
	return p
}

// RestartsOf is the restart count of the Sidekiq container of each pod seen
// so far, by pod name.
func (o *Observer) RestartsOf() map[string]int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := map[string]int32{}
	for _, r := range o.pods {
		n[r.name] = r.restarts
	}
	return n
}
