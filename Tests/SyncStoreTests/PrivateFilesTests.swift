import Foundation
import SyncCore
import SyncStore
import Testing

@Suite struct PrivateFilesTests {
    @Test func aPrivateWriteNarrowsAnExistingFileAndRefusesALink() throws {
        let fixture = try StoreFixture()
        let report = fixture.folder.appendingPathComponent("report.md").path
        FileManager.default.createFile(
            atPath: report, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        try PrivateFiles.write(Data("new".utf8), toPath: report)
        #expect(PrivateFiles.mode(ofPath: report) == 0o600)
        #expect(FileManager.default.contents(atPath: report) == Data("new".utf8))
        let link = fixture.folder.appendingPathComponent("link.md").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: report)
        #expect(throws: PrivateFileError.self) { try PrivateFiles.write(Data("x".utf8), toPath: link) }
        #expect(FileManager.default.contents(atPath: report) == Data("new".utf8))
    }

    @Test func aStoreFileOthersCanReadIsNamedWithItsMode() throws {
        let fixture = try StoreFixture()
        _ = try fixture.importCSV("email,firstName\naino@example.fi,Aino\n")
        #expect(PrivateFiles.looselyProtected(storePath: fixture.path).isEmpty)
        chmod(fixture.path, 0o644)
        #expect(PrivateFiles.looselyProtected(storePath: fixture.path).map(\.mode) == [0o644])
    }
}

extension PrivateFilesTests {
    /// Another user's file, or a FIFO they planted, is never written into (root would otherwise hand them PII).
    @Test func aFileOfAnotherUserOrAFIFOIsRefused() throws {
        let fixture = try StoreFixture()
        let fifo = fixture.folder.appendingPathComponent("report.fifo").path
        #expect(mkfifo(fifo, 0o666) == 0)
        #expect(throws: PrivateFileError.self) { try PrivateFiles.write(Data("x".utf8), toPath: fifo) }
        guard geteuid() == 0 else { return }  // only root can give a file to another user
        let foreign = fixture.folder.appendingPathComponent("foreign.json").path
        FileManager.default.createFile(atPath: foreign, contents: Data("theirs".utf8))
        #expect(chown(foreign, 65_534, 65_534) == 0)
        #expect(throws: PrivateFileError.self) { try PrivateFiles.write(Data("pii".utf8), toPath: foreign) }
        #expect(FileManager.default.contents(atPath: foreign) == Data("theirs".utf8))
    }
}
