package broker

import (
	"context"
	"time"

	"github.com/rmqlog/rmqlog/namesrv"
)

// register registers with every name server of NamesrvAddr: broker id 0
// while a ready master, MemberID otherwise, with the topic configs.
func (b *Broker) register() {
	addrs := namesrv.ParseAddrs(b.cfg.NamesrvAddr)
	if len(addrs) == 0 {
		return
	}
	id := b.cfg.MemberID
	if b.isReady() {
		id = 0
	}
	reg := namesrv.Registration{
		ClusterName: b.cfg.ClusterName, BrokerName: b.cfg.BrokerName, BrokerAddr: b.cfg.BrokerAddr,
		BrokerID: id, Topics: b.tables.topicList(),
		DataVersion: namesrv.DataVersion{Timestamp: time.Now().UnixMilli(), Counter: int64(b.applied.Load())},
	}
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	if _, err := namesrv.Register(ctx, addrs, reg); err != nil && b.ctx.Err() == nil {
		b.cfg.Logger.Warn("broker: registration failed", "err", err)
	}
}
